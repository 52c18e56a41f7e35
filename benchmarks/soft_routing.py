"""Choose lowface-auto's blend band (lowface.inference.routing): where the router is unsure, mix its two networks.

Each image of a set goes through both networks of ``lowface-auto`` (no gate, each output moved by the exposure target
as the routed model does); its mean PSNR and SSIM against the clean image or reference, raw and after matching the
mean brightness, are measured for the mixes fast + s (restore - fast) at s = 0, 0.05, .., 1 and interpolated for any
share. A band (low, high) gives each image the share clip((p - low) / (high - low), 0, 1) of its router probability p;
the hard choice (p > 0.5) is the reference every band is compared with.

Choice data (training and validation material only): SICE's train scenes (every ``--sice-every``-th under-exposed
frame), LFW's training list (the router fit's held-out half, odd positions of ``--images`` spread over the list)
darkened by the router's training presets, CelebA's validation people darkened by ``real-mix``. Rule: the band with
the largest SICE train gain over the hard choice (sum of PSNR and 100 x SSIM, raw and matched) among those that lose
no more than ``--tolerance`` in any of the four on the LFW presets' mean or on CelebA. Reported, never chosen on:
SICE's validation scenes, with CIEDE2000 for the hard choice and the chosen band. SICE's test scenes are not read.

    python benchmarks/soft_routing.py --data-root ../shared/data --out benchmarks/results/soft_routing/choice.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np
import torch
from tqdm import tqdm

from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.bench.report import provenance
from lowface.data.celeba import celeba_split
from lowface.data.lfw import lfw_train_images
from lowface.data.synth import synthesize, synthesize_float32
from lowface.inference.enhancer import Enhancer
from lowface.inference.routing import restore_share
from lowface.inference.statistics import exposure_features
from lowface.io import image_to_tensor, read_image
from lowface.metrics.color import match_brightness
from lowface.metrics.fidelity import psnr, ssim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from fit_noise_router import FIT_PRESETS

SHARES = np.linspace(0.0, 1.0, 21)  # the mixes at which each image's fidelity is measured
METRICS = ("psnr", "ssim", "psnr_matched", "ssim_matched")
SCALE = np.array([1.0, 100.0, 1.0, 100.0])  # gains in dB and SSIM points


def band_share(probability: np.ndarray, band: tuple[float, float] | None) -> np.ndarray:
    """Router probabilities -> the restoring network's share as the routed model takes it (:func:`restore_share`)."""
    return restore_share(torch.from_numpy(probability), band).numpy()


@torch.inference_mode()
def outputs(enhancer: Enhancer, dark: list[np.ndarray]) -> tuple[np.ndarray, list[torch.Tensor], list[torch.Tensor]]:
    """Router probability (N,) and both networks' outputs (1, 3, H, W) of each dark (H, W, 3) float image."""
    probability, fast, restore = [], [], []
    for image in tqdm(dark, unit="img", leave=False):
        x = image_to_tensor(np.asarray(image, np.float32))
        probability.append(float(enhancer.model.router.probability(x, exposure_features(x))))
        fast.append(enhancer.enhance_tensor(x, route=torch.zeros(1)).clamp(0, 1))
        restore.append(enhancer.enhance_tensor(x, route=torch.ones(1)).clamp(0, 1))
    return np.array(probability), fast, restore


def curves(fast: list[torch.Tensor], restore: list[torch.Tensor], references: list[np.ndarray]) -> np.ndarray:
    """(N, len(SHARES), 4) fidelity of each mix, rounded to 8 bits as saved, in the order of METRICS."""
    rows = []
    for f, r, reference in zip(fast, restore, references, strict=True):
        y = image_to_tensor(np.asarray(reference, np.float32))
        mixes = torch.round((f + torch.as_tensor(SHARES, dtype=f.dtype).view(-1, 1, 1, 1) * (r - f)) * 255) / 255
        matched = match_brightness(mixes, y.expand_as(mixes))
        rows.append(torch.stack([psnr(mixes, y), ssim(mixes, y), psnr(matched, y), ssim(matched, y)], 1).numpy())
    return np.stack(rows)


def at_shares(curve: np.ndarray, share: np.ndarray) -> np.ndarray:
    """(N, len(SHARES), 4) curves, (N,) shares -> (4,) mean fidelity, linearly interpolated between measured mixes."""
    rows = [[np.interp(s, SHARES, c[:, k]) for k in range(c.shape[1])] for c, s in zip(curve, share, strict=True)]
    return np.mean(rows, 0)


@click.command()
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--images", default=600, show_default=True, help="LFW training-list images spread as the router's fit")
@click.option("--sice-every", default=3, show_default=True, help="every n-th under-exposed SICE train frame")
@click.option("--tolerance", default=0.05, show_default=True, help="largest loss allowed on LFW / CelebA (dB, SSIM %)")
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(data_root: Path, images: int, sice_every: int, tolerance: float, threads: int, out: Path) -> None:
    torch.set_num_threads(threads)
    enhancer = Enhancer.from_pretrained("lowface-auto", gate=False)
    sets: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    train = RealPairsSet.load(data_root, "train", every=sice_every)
    sets["sice-train"] = (train.dark, [r / 255.0 for r in train.references])
    paths = lfw_train_images(data_root)
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(images, len(paths))).round().astype(int)][1::2]
    clean = [read_image(p).rgb for p in paths]
    for preset in FIT_PRESETS:
        sets[f"lfw-{preset}"] = (synthesize(clean, preset, seed=1)[0], clean)
    faces = [read_image(p).rgb for p in celeba_split(data_root, "val")]
    sets["celeba-val-real-mix"] = (synthesize_float32(faces, "real-mix", seed=0), faces)
    val = RealPairsSet.load(data_root, "val")
    sets["sice-val"] = (val.dark, [r / 255.0 for r in val.references])

    measured, val_outputs = {}, None
    for name, (dark, references) in tqdm(sets.items(), desc="sets"):
        probability, fast, restore = outputs(enhancer, dark)
        measured[name] = (probability, curves(fast, restore, references))
        if name == "sice-val":
            val_outputs = (probability, fast, restore)

    hard = {n: at_shares(c, band_share(p, None)) for n, (p, c) in measured.items()}  # what every band is compared with

    def gains(band: tuple[float, float] | None) -> dict[str, np.ndarray]:
        return {n: (at_shares(c, band_share(p, band)) - hard[n]) * SCALE for n, (p, c) in measured.items()}

    lfw_sets = [f"lfw-{preset}" for preset in FIT_PRESETS]
    candidates = []
    for low in np.arange(0.0, 0.51, 0.05):
        for high in np.arange(max(low + 0.05, 0.5), 1.001, 0.05):
            band = (round(float(low), 2), round(float(high), 2))
            g = gains(band)
            lfw = np.mean([g[n] for n in lfw_sets], 0)
            candidates.append({
                "band": band, "sice_train": g["sice-train"].round(3).tolist(), "lfw_fit_presets": lfw.round(3).tolist(),
                "celeba_val": g["celeba-val-real-mix"].round(3).tolist(), "sice_val": g["sice-val"].round(3).tolist(),
                "admissible": bool(min(lfw.min(), g["celeba-val-real-mix"].min()) >= -tolerance),
                "score": round(float(g["sice-train"].sum()), 3),
            })  # fmt: skip
    admissible = [c for c in candidates if c["admissible"]]
    chosen = max(admissible, key=lambda c: c["score"]) if admissible else None
    band = tuple(chosen["band"]) if chosen else None

    absolute = {}
    for label, b in (("hard", None), ("chosen", band)):
        absolute[label] = {n: dict(zip(METRICS, at_shares(c, band_share(p, b)).round(4).tolist(), strict=True))
                           for n, (p, c) in measured.items()}  # fmt: skip
        probability, fast, restore = val_outputs
        share = band_share(probability, b)
        mixes = [np.round(((f + s * (r - f))[0].permute(1, 2, 0).numpy()) * 255).astype(np.uint8)
                 for f, r, s in zip(fast, restore, share, strict=True)]  # fmt: skip
        fidelity = pair_fidelity(mixes, sets["sice-val"][1])
        absolute[label]["sice-val"].update({k: round(v, 4) for k, v in fidelity.items() if k.startswith("ciede")})
        absolute[label]["sice-val"]["share_mixed"] = round(float(np.mean((share > 0) & (share < 1))), 4)
    for label, row in absolute.items():
        click.echo(f"{label} {band if label == 'chosen' else ''}")
        for name, values in row.items():
            click.echo(f"  {name:22s} " + "  ".join(f"{k} {v:.3f}" for k, v in values.items()))
    record = {**provenance(threads), "sets": {n: len(p) for n, (p, _) in measured.items()},
              "tolerance": tolerance, "chosen": band, "absolute": absolute, "candidates": candidates}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
