"""Fit the do-no-harm exposure gate (lowface.inference.gate) and write it into the package.

Usage: python tools/fit_exposure_gate.py --data-root ../shared/data [--out src/lowface/weights/exposure_gate.json]

Data, training material only (no LFW test identity, no SICE validation or test scene, no benchmark preset):
- LFW's training list: class 0 ("leave alone") the clean images, class 1 ("enhance") the same images darkened by
  each training preset in DARK_PRESETS (seed 1);
- real captures, SICE's train scenes (lowface.data.sice): class 1 the under-exposed frames, class 0 each scene's
  reference and every frame at least as bright (brightening an over-exposed frame only does harm); frames between
  (darker than the reference, but not by the under-exposure margin) are ambiguous and left out.
The four groups (LFW clean, LFW dark, SICE dark, SICE well/over-exposed) weigh the same. Logistic regression on
standardised features, L2 1e-3, L-BFGS (lowface.inference.logistic). The report gives the mean weight per group, and per
preset of the benchmark and on SICE's validation scenes, none of which the fit saw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.data.lfw import lfw_train_images
from lowface.data.sice import load_scenes, sice_root
from lowface.data.synth import mean_luma, synthesize
from lowface.inference.gate import ExposureGate
from lowface.inference.logistic import fit_logistic
from lowface.inference.statistics import exposure_features
from lowface.io import image_to_tensor, read_image

DARK_PRESETS = ("linear-wide", "camera-range", "physical-range", "scale-noise-range")
REPORT_PRESETS = ("linear", "linear-dark", "gamma-noise", "x0.15-noise0.02", "physical-1", "physical-3", "physical-10")


def features_of(images: list[np.ndarray]) -> torch.Tensor:
    return torch.cat([exposure_features(image_to_tensor(np.asarray(im, np.float32))) for im in images])


def sice_groups(data_root: Path, split: str) -> dict[str, torch.Tensor]:
    """Features of a SICE split's under-exposed frames and of its references and brighter frames."""
    root = sice_root(data_root)
    dark, bright = [], []
    for scene in tqdm(load_scenes(split), desc=f"SICE {split}", unit="scene"):
        reference = read_image(root / f"{scene.reference}.jpg").rgb
        level = mean_luma(reference)
        for number in scene.frames:
            image = reference if number == scene.reference else read_image(root / f"{number}.jpg").rgb
            if number in scene.under_exposed:
                dark.append(features_of([image]))
            elif mean_luma(image) >= level:
                bright.append(features_of([image]))
    return {f"sice-{split}-dark": torch.cat(dark), f"sice-{split}-bright": torch.cat(bright)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("src/lowface/weights/exposure_gate.json"))
    args = parser.parse_args()

    clean = [read_image(p).rgb for p in tqdm(lfw_train_images(args.data_root), desc="reading", unit="img")]
    lfw_dark = torch.cat([features_of(synthesize(clean, preset, seed=1)[0]) for preset in tqdm(DARK_PRESETS)])
    fit_groups = {"lfw-clean": (features_of(clean), 0.0), "lfw-dark": (lfw_dark, 1.0)}
    sice_train = sice_groups(args.data_root, "train")
    fit_groups["sice-train-dark"] = (sice_train["sice-train-dark"], 1.0)
    fit_groups["sice-train-bright"] = (sice_train["sice-train-bright"], 0.0)
    x = torch.cat([features for features, _ in fit_groups.values()])
    y = torch.cat([torch.full((len(features),), label) for features, label in fit_groups.values()])
    sample_weight = torch.cat([torch.full((len(f),), 1.0 / len(f)) for f, _ in fit_groups.values()])
    gate = ExposureGate.from_fit(fit_logistic(x, y, sample_weight * len(x)))

    report = {name: features for name, (features, _) in fit_groups.items()}
    report.update(sice_groups(args.data_root, "val"))
    report.update({preset: features_of(synthesize(clean, preset, seed=2)[0]) for preset in REPORT_PRESETS})
    summary = {}
    for name, features in report.items():
        w = gate.weight_from_features(features)
        summary[name] = {
            "fitted_on": name in fit_groups,
            "images": len(features),
            "mean_weight": round(float(w.mean()), 4),
            "share_above_0.5": round(float((w > 0.5).float().mean()), 4),
            "share_zero": round(float((w == 0).float().mean()), 4),
        }
        row = summary[name]
        print(f"{name:22s} mean w {row['mean_weight']:.3f}  w > 0.5: {100 * row['share_above_0.5']:5.1f}%  "
              f"untouched: {100 * row['share_zero']:5.1f}%")  # fmt: skip
    gate.save(
        args.out,
        training_data=f"LFW train_images.txt ({len(clean)} images) clean vs darkened by {list(DARK_PRESETS)}; "
        "SICE train scenes: under-exposed frames vs references and brighter frames; four groups weighted equally",
        fit_summary=summary,
    )
    print(f"gate written to {args.out}")


if __name__ == "__main__":
    main()
