"""Fit the do-no-harm exposure gate (lowface.gate) and write it into the package.

Usage: python tools/fit_exposure_gate.py --data-root ../shared/data [--out src/lowface/weights/exposure_gate.json]

Data: LFW's training list only (identities disjoint from pairs.txt). Class 0 ("leave alone"): the clean
images. Class 1 ("enhance"): the same images darkened by each preset in DARK_PRESETS (seed 1), each preset
weighted so that the two classes weigh the same. Logistic regression on standardised features, L2 1e-3,
L-BFGS (lowface.logistic).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.data.lfw import lfw_train_images
from lowface.data.synth import synthesize
from lowface.gate import ExposureGate, exposure_features
from lowface.io import image_to_tensor, read_image
from lowface.logistic import fit_logistic

DARK_PRESETS = ("linear", "linear-dark", "gamma-noise", "x0.15-noise0.02", "physical-1", "physical-3", "physical-10")


def features_of(images: list[np.ndarray]) -> torch.Tensor:
    return torch.cat([exposure_features(image_to_tensor(np.asarray(im, np.float32))) for im in images])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("src/lowface/weights/exposure_gate.json"))
    args = parser.parse_args()

    clean = [read_image(p).rgb for p in tqdm(lfw_train_images(args.data_root), desc="reading", unit="img")]
    groups = {"clean": features_of(clean)}
    for preset in tqdm(DARK_PRESETS, desc="presets"):
        groups[preset] = features_of(synthesize(clean, preset, seed=1)[0])
    x = torch.cat(list(groups.values()))
    y = torch.cat([torch.zeros(len(clean))] + [torch.ones(len(clean))] * len(DARK_PRESETS))
    sample_weight = torch.where(y == 0, float(len(DARK_PRESETS)), 1.0)
    fit = fit_logistic(x, y, sample_weight)
    gate = ExposureGate.from_fit(fit)
    summary = {}
    for name, feats in groups.items():
        w = gate.weight_from_features(feats)
        summary[name] = {
            "mean_weight": round(float(w.mean()), 4),
            "share_above_0.5": round(float((w > 0.5).float().mean()), 4),
        }
        row = summary[name]
        print(f"{name:18s} mean w {row['mean_weight']:.3f}  w > 0.5: {100 * row['share_above_0.5']:.1f}%")
    gate.save(
        args.out,
        training_data=f"LFW train_images.txt ({len(clean)} images) clean vs darkened by {list(DARK_PRESETS)}",
        fit_summary=summary,
    )
    print(f"gate written to {args.out}")


if __name__ == "__main__":
    main()
