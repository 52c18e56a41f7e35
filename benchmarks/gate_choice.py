"""Choose the exposure gate's statistics and group weights (tools/fit_exposure_gate.py) on validation data.

For each candidate - a set of brightness statistics (the four the gate used up to 2026-12-06, or all of
lowface.inference.statistics.BRIGHTNESS_STATISTICS) and the weights of the SICE and CelebA groups in the fit - the gate
is fitted on the tool's training groups and scored on data the fit never sees:
- SICE's validation scenes, under-exposed frames: mean PSNR / SSIM of x + w (auto(x) - x) against the scene's
  reference (auto = ``lowface-auto`` without gate; per-frame curves over w, interpolated) and the share left untouched;
- SICE's validation scenes, references and brighter frames: mean PSNR against the reference and mean gate weight;
- CelebA's validation people, the clean photos: mean gate weight and share touched (w > 0) - the do-no-harm cost;
- the photos of ``lowlight_real/`` (context only, never a criterion): mean weight.

    python benchmarks/gate_choice.py --data-root ../shared/data --out benchmarks/results/gate_refit/choice.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np
import torch
from tqdm import tqdm

from lowface.bench.methods import pretrained
from lowface.bench.report import provenance
from lowface.data.celeba import celeba_split
from lowface.data.sice import load_scenes, sice_root
from lowface.data.synth import mean_luma
from lowface.inference.gate import ExposureGate
from lowface.inference.logistic import LinearModel
from lowface.inference.statistics import BRIGHTNESS_STATISTICS
from lowface.io import as_float, image_to_tensor, read_image
from lowface.metrics.fidelity import psnr, ssim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from fit_exposure_gate import fit_weighted, lfw_train, statistics_of, training_groups

BLEND = np.linspace(0.0, 1.0, 21)  # the gate weights at which each frame's PSNR / SSIM is measured
FEATURE_SETS = {"four (before)": ("log_mean", "log_median", "log_p95", "dark_share"), "all 13": BRIGHTNESS_STATISTICS}
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


def blend_curves(data_root: Path) -> dict[str, dict[str, np.ndarray]]:
    """SICE val frames, "dark" (under-exposed) and "bright" (reference and brighter): statistics (N, 13) tensor, PSNR /
    SSIM (N, len(BLEND)) of x + a (auto(x) - x) against the scene's reference, for each a in BLEND."""
    auto, root = pretrained("lowface-auto"), sice_root(data_root)
    groups = {kind: {"statistics": [], "psnr": [], "ssim": []} for kind in ("dark", "bright")}
    for scene in tqdm(load_scenes("val"), desc="SICE val", unit="scene"):
        reference = read_image(root / f"{scene.reference}.jpg").rgb
        y = image_to_tensor(as_float(reference))
        for number in scene.frames:
            image = reference if number == scene.reference else read_image(root / f"{number}.jpg").rgb
            if number in scene.under_exposed:
                kind = "dark"
            elif mean_luma(image) >= mean_luma(reference):
                kind = "bright"
            else:
                continue
            x = image_to_tensor(as_float(image))
            enhanced = image_to_tensor(as_float(auto.enhance(image)))
            blends = torch.cat([(x + a * (enhanced - x)).clamp(0, 1) for a in BLEND])
            groups[kind]["statistics"].append(statistics_of([image]))
            groups[kind]["psnr"].append(psnr(blends, y.expand_as(blends)).clamp(max=60).numpy())
            groups[kind]["ssim"].append(ssim(blends, y.expand_as(blends)).numpy())
    return {kind: {name: torch.cat(v) if name == "statistics" else np.stack(v) for name, v in group.items()}
            for kind, group in groups.items()}  # fmt: skip


def candidate_gate(names: tuple[str, ...], fit: LinearModel) -> ExposureGate:
    """The shipped gate's class (its column selection and dead zone) on the ``names`` statistics."""
    return type("CandidateGate", (ExposureGate,), {"FEATURES": names}).from_fit(fit)


def at_weight(curves: np.ndarray, weights: np.ndarray) -> float:
    """Mean over frames of each frame's curve (over BLEND) read at its gate weight."""
    return float(np.mean([np.interp(w, BLEND, curve) for w, curve in zip(weights, curves, strict=True)]))


@click.command(help=__doc__)
@click.option("--data-root", type=click.Path(path_type=Path), default=Path("../shared/data"), show_default=True)
@click.option("--sice-weights", default="1,2,4,8,12,16", show_default=True)
@click.option("--celeba-weights", default="0,1,2,4", show_default=True)
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def main(data_root: Path, sice_weights: str, celeba_weights: str, threads: int, out: Path) -> None:
    torch.set_num_threads(threads)
    fit_groups = training_groups(data_root, lfw_train(data_root))
    frames = blend_curves(data_root)
    celeba_val = statistics_of([read_image(p).rgb for p in celeba_split(data_root, "val")])
    photos = sorted(p for p in (data_root / "lowlight_real").rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    real = statistics_of([read_image(p).rgb for p in photos])
    rows = {"no gate": {"sice_dark_psnr": float(frames["dark"]["psnr"][:, -1].mean()),
                        "sice_dark_ssim": float(frames["dark"]["ssim"][:, -1].mean()),
                        "sice_bright_psnr": float(frames["bright"]["psnr"][:, -1].mean())}}  # fmt: skip
    for set_name, names in FEATURE_SETS.items():
        for sice_weight in (float(v) for v in sice_weights.split(",")):
            for celeba_weight in (float(v) for v in celeba_weights.split(",")):
                weights = {"celeba-train": celeba_weight, "sice-train-dark": sice_weight,
                           "sice-train-bright": sice_weight}  # fmt: skip
                gate = candidate_gate(names, fit_weighted(fit_groups, weights, names))

                def gate_weight(statistics: torch.Tensor, gate=gate) -> np.ndarray:
                    return gate.weight_from_features(statistics).numpy()

                dark, bright = gate_weight(frames["dark"]["statistics"]), gate_weight(frames["bright"]["statistics"])
                clean = gate_weight(celeba_val)
                label = f"{set_name}, SICE {sice_weight:g}, CelebA {celeba_weight:g}"
                rows[label] = {
                    "sice_dark_psnr": at_weight(frames["dark"]["psnr"], dark),
                    "sice_dark_ssim": at_weight(frames["dark"]["ssim"], dark),
                    "sice_dark_untouched": float(np.mean(dark == 0)),
                    "sice_bright_psnr": at_weight(frames["bright"]["psnr"], bright),
                    "sice_bright_weight": float(bright.mean()),
                    "celeba_val_weight": float(clean.mean()),
                    "celeba_val_touched": float(np.mean(clean > 0)),
                    "lowlight_real_weight": float(gate_weight(real).mean()),
                }
                row = rows[label]
                print(
                    f"{label:34s} SICE dark {row['sice_dark_psnr']:6.2f} dB {row['sice_dark_ssim']:.3f} untouched "
                    f"{row['sice_dark_untouched']:.2f} | bright {row['sice_bright_psnr']:6.2f} dB w "
                    f"{row['sice_bright_weight']:.3f} | CelebA val w {row['celeba_val_weight']:.3f} touched "
                    f"{row['celeba_val_touched']:.2f} | real w {row['lowlight_real_weight']:.2f}",
                    flush=True,
                )
    out.parent.mkdir(parents=True, exist_ok=True)
    frame_counts = {kind: len(group["psnr"]) for kind, group in frames.items()}
    record = {**provenance(threads), "frames": frame_counts, "rows": rows}
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
