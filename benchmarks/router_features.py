"""Would more image statistics route better? (issue 20) Candidate features for ``lowface-auto``'s noise router, scored
on the networks' fidelities that ``tools/fit_noise_router.py --cache`` saved: the same images (LFW training list
under the training and benchmark presets, seed 1; SICE train and val frames), the same label and weights, the
logistic model refitted with each set of extra features and each weight of the real pairs. Training-list images and
SICE train / val scenes only: a design study, never the test scenes.

    python tools/fit_noise_router.py --cache runs/router-cache.pt --out /tmp/unused.json
    python benchmarks/router_features.py --cache runs/router-cache.pt --out benchmarks/results/x/router-features.md

Extra features (all on the whole image): ``noise_half`` Immerkær's estimate on the image area-downsampled 2x
(correlated, demosaiced noise survives it, white noise halves); ``chroma_noise`` / ``luma_noise`` the estimate on
R - G and B - G / on luma; ``cast_r`` / ``cast_b`` log mean R / G and B / G; ``saturation`` mean (max - min) / max.
Each row: per held-out set, the mean fidelity (mean of raw and brightness-matched PSNR, as the router's label) of
the routed outputs and the share sent to the restoring network; ``best of two`` the per-image better network.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import click
import numpy as np
import torch
from tqdm import tqdm

from lowface.data.lfw import lfw_train_images
from lowface.data.sice import sice_pairs
from lowface.data.synth import synthesize
from lowface.filters import area_downsample, luma
from lowface.inference.logistic import fit_logistic
from lowface.inference.routing import shipped_router
from lowface.inference.statistics import noise_features, noise_sigma
from lowface.io import image_to_tensor, read_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from fit_noise_router import FIT_PRESETS, TEST_PRESETS, WEIGHT_CAP_DB

EXTRA = ("noise_half", "chroma_noise", "luma_noise", "cast_r", "cast_b", "saturation")
REPORTED = ("linear-wide", "camera-range", "physical-range", "linear", "linear-dark", "gamma-noise", "physical-10",
            "sice-train", "sice-val")  # fmt: skip


def candidate_features(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) in [0, 1] -> (3 + len(EXTRA),): the router's own features, then the candidates."""
    x = image_to_tensor(np.asarray(image, np.float32))
    red, green, blue = x[0]
    chroma = torch.stack([red - green, blue - green, red - green])[None]  # noise_sigma averages three planes
    means = x[0].flatten(1).mean(1) + 1e-3
    brightest, darkest = x[0].max(0).values, x[0].min(0).values
    extra = [
        noise_sigma(area_downsample(x, 2))[0].add(1e-4).log(),
        noise_sigma(chroma)[0].add(1e-4).log(),
        noise_sigma(luma(x).expand(1, 3, -1, -1).contiguous())[0].add(1e-4).log(),
        (means[0] / means[1]).log(),
        (means[2] / means[1]).log(),
        ((brightest - darkest) / (brightest + 1e-2)).mean(),
    ]
    return torch.cat([noise_features(x)[0], torch.stack(extra)])


def all_features(data_root: Path, images: int) -> dict[str, torch.Tensor]:
    """Features of every image of the router cache, in its order (fit_noise_router.py's selection and seed)."""
    paths = lfw_train_images(data_root)
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(images, len(paths))).round().astype(int)]
    clean = [read_image(p).rgb for p in paths]
    features = {}
    for preset in tqdm(FIT_PRESETS + TEST_PRESETS, desc="presets"):
        features[preset] = torch.stack([candidate_features(d) for d in synthesize(clean, preset, seed=1)[0]])
    for split in ("train", "val"):
        frames = [read_image(d).rgb for d, _ in sice_pairs(data_root, split)]
        features[f"sice-{split}"] = torch.stack([candidate_features(f) for f in frames])
    return features


@click.command()
@click.option("--cache", type=click.Path(exists=True, path_type=Path), required=True, help="fit_noise_router's")
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="a markdown table")
@click.option("--threads", default=2, show_default=True)
def main(cache: Path, data_root: Path, out: Path, threads: int) -> None:
    torch.set_num_threads(threads)
    cached = torch.load(cache, weights_only=True)
    scores = {p: r["psnr"] for p, r in cached["results"].items()}
    scores |= {f"sice-{s}": cached["real"][s]["psnr"] for s in ("train", "val")}
    features = all_features(data_root, cached["key"]["images"])
    for name, values in cached["results"].items():  # the same images in the same order as the cache
        assert torch.allclose(features[name][:, :3], values["features"], atol=1e-4), name
    fit_rows, report_rows = slice(0, None, 2), slice(1, None, 2)

    def held_out(name: str) -> slice:
        return slice(None) if name.startswith("sice") else report_rows

    def row(label: str, probability) -> str:
        cells = []
        for name in REPORTED:
            f, s = features[name][held_out(name)], scores[name][held_out(name)]
            restore = probability(f) > 0.5
            routed = float(torch.where(restore, s[:, 1], s[:, 0]).mean())
            cells.append(f"{routed:.2f} / {100 * float(restore.float().mean()):.0f} %")
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = ["| features (real pairs' weight) | " + " | ".join(REPORTED) + " |", "|---" * (len(REPORTED) + 1) + "|"]
    best = [f"{float(scores[n][held_out(n)].max(1).values.mean()):.2f}" for n in REPORTED]
    lines.append("| best of two | " + " | ".join(best) + " |")
    lines.append(row("shipped router", lambda f: shipped_router().probability_from_features(f[:, :3])))
    for k in range(4):
        for extra in itertools.combinations(range(len(EXTRA)), k):
            columns = [0, 1, 2, *(3 + i for i in extra)]
            for weight in (0.5, 1.0):
                x = torch.cat(
                    [features[p][fit_rows][:, columns] for p in FIT_PRESETS] + [features["sice-train"][:, columns]]
                )
                synthetic = torch.cat([scores[p][fit_rows, 1] - scores[p][fit_rows, 0] for p in FIT_PRESETS])
                real = scores["sice-train"][:, 1] - scores["sice-train"][:, 0]
                gain = torch.cat([synthetic, real])
                balance = torch.cat(
                    [torch.ones_like(synthetic), torch.full_like(real, weight * len(synthetic) / len(real))]
                )
                fit = fit_logistic(x, (gain > 0).float(), gain.abs().clamp(max=WEIGHT_CAP_DB) * balance)
                label = " + ".join(EXTRA[i] for i in extra) or "the router's three"
                lines.append(
                    row(f"{label} ({weight})", lambda f, c=columns, m=fit: m.probability_from_features(f[:, c]))
                )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:6]))


if __name__ == "__main__":
    main()
