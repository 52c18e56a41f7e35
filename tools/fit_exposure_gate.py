"""Fit the do-no-harm exposure gate (lowface.inference.gate) and write it into the package.

Usage: python tools/fit_exposure_gate.py --data-root ../shared/data --sice-weight 8 --celeba-weight 2
       [--out src/lowface/weights/exposure_gate.json]

Data, training material only (no LFW test identity, no SICE validation or test scene, no CelebA val or test person,
no benchmark preset):
- LFW's training list: class 0 ("leave alone") the clean images, class 1 ("enhance") the same images darkened by
  each training preset in DARK_PRESETS (seed 1);
- CelebA's train people (lowface.data.celeba): class 0, in-the-wild photos as people take them;
- real captures, SICE's train scenes (lowface.data.sice): class 1 the under-exposed frames, class 0 each scene's
  reference and every frame at least as bright (brightening an over-exposed frame only does harm); frames between
  (darker than the reference, but not by the under-exposure margin) are ambiguous and left out.
Each group weighs 1 in all (LFW clean, LFW dark), ``--celeba-weight`` (CelebA) or ``--sice-weight`` (each SICE group):
how much a real capture counts against a synthetic darkening; chosen on validation data in
benchmarks/results/gate_refit/. Logistic regression on the standardised brightness statistics, L2 1e-3, L-BFGS
(lowface.inference.logistic). The report gives the mean weight per group, and per preset of the benchmark, on SICE's
validation scenes and on CelebA's val people, none of which the fit saw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.data.celeba import celeba_split
from lowface.data.lfw import lfw_train_images
from lowface.data.sice import load_scenes, sice_root
from lowface.data.synth import mean_luma, synthesize
from lowface.inference.gate import ExposureGate
from lowface.inference.logistic import LogisticModel, fit_logistic
from lowface.inference.statistics import exposure_features, select_statistics
from lowface.io import as_float, image_to_tensor, read_image

DARK_PRESETS = ("linear-wide", "camera-range", "physical-range", "scale-noise-range")
REPORT_PRESETS = ("linear", "linear-dark", "gamma-noise", "x0.15-noise0.02", "physical-1", "physical-3", "physical-10")


def statistics_of(images: list[np.ndarray]) -> torch.Tensor:
    """(H, W, 3) images in [0, 1] (or uint8) -> (N, 13) their brightness statistics (exposure_features)."""
    return torch.cat([exposure_features(image_to_tensor(as_float(np.asarray(image)))) for image in images])


def sice_groups(data_root: Path, split: str) -> dict[str, torch.Tensor]:
    """Statistics of a SICE split's under-exposed frames and of its references and brighter frames."""
    root = sice_root(data_root)
    dark, bright = [], []
    for scene in tqdm(load_scenes(split), desc=f"SICE {split}", unit="scene"):
        reference = read_image(root / f"{scene.reference}.jpg").rgb
        level = mean_luma(reference)
        for number in scene.frames:
            image = reference if number == scene.reference else read_image(root / f"{number}.jpg").rgb
            if number in scene.under_exposed:
                dark.append(statistics_of([image]))
            elif mean_luma(image) >= level:
                bright.append(statistics_of([image]))
    return {f"sice-{split}-dark": torch.cat(dark), f"sice-{split}-bright": torch.cat(bright)}


def lfw_train(data_root: Path) -> list[np.ndarray]:
    """LFW's training list, (H, W, 3) images."""
    return [read_image(p).rgb for p in tqdm(lfw_train_images(data_root), desc="LFW train", unit="img")]


def training_groups(data_root: Path, clean: list[np.ndarray]) -> dict[str, tuple[torch.Tensor, float]]:
    """The fit's groups, ``clean`` being :func:`lfw_train`'s images: name -> ((N, 13) statistics, label: 1 enhance,
    0 leave alone)."""
    lfw_dark = torch.cat([statistics_of(synthesize(clean, preset, seed=1)[0]) for preset in tqdm(DARK_PRESETS)])
    celeba = statistics_of([read_image(p).rgb for p in celeba_split(data_root, "train")])
    sice = sice_groups(data_root, "train")
    return {
        "lfw-clean": (statistics_of(clean), 0.0),
        "lfw-dark": (lfw_dark, 1.0),
        "celeba-train": (celeba, 0.0),
        "sice-train-dark": (sice["sice-train-dark"], 1.0),
        "sice-train-bright": (sice["sice-train-bright"], 0.0),
    }


def fit_weighted(groups: dict[str, tuple[torch.Tensor, float]], group_weights: dict[str, float],
                 names: tuple[str, ...] = ExposureGate.FEATURES) -> LogisticModel:  # fmt: skip
    """Logistic regression on the ``names`` statistics of ``groups`` (as training_groups gives them), each group
    weighing ``group_weights[name]`` (1 where not given) in all, however many images it has."""
    x = torch.cat([select_statistics(statistics, names) for statistics, _ in groups.values()])
    y = torch.cat([torch.full((len(statistics),), label) for statistics, label in groups.values()])
    sample_weight = torch.cat([torch.full((len(statistics),), group_weights.get(name, 1.0) / len(statistics))
                               for name, (statistics, _) in groups.items()])  # fmt: skip
    return fit_logistic(x, y, sample_weight / sample_weight.sum() * len(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sice-weight", type=float, default=8.0, help="weight of each SICE group (LFW's: 1)")
    parser.add_argument("--celeba-weight", type=float, default=2.0, help="weight of CelebA's train photos")
    parser.add_argument("--out", type=Path, default=Path("src/lowface/weights/exposure_gate.json"))
    args = parser.parse_args()

    clean = lfw_train(args.data_root)
    groups = training_groups(args.data_root, clean)
    weights = {"celeba-train": args.celeba_weight, "sice-train-dark": args.sice_weight,
               "sice-train-bright": args.sice_weight}  # fmt: skip
    gate = ExposureGate.from_fit(fit_weighted(groups, weights))

    report = {name: statistics for name, (statistics, _) in groups.items()}
    report.update(sice_groups(args.data_root, "val"))
    report["celeba-val"] = statistics_of([read_image(p).rgb for p in celeba_split(args.data_root, "val")])
    report.update({preset: statistics_of(synthesize(clean, preset, seed=2)[0]) for preset in REPORT_PRESETS})
    summary = {}
    for name, features in report.items():
        w = gate.weight_from_features(features)
        summary[name] = {
            "fitted_on": name in groups,
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
        f"CelebA train people ({len(groups['celeba-train'][0])} photos) clean; SICE train scenes: under-exposed frames "
        f"vs references and brighter frames; group weights LFW 1, CelebA {args.celeba_weight:g}, "
        f"SICE {args.sice_weight:g} each",
        fit_summary=summary,
    )
    print(f"gate written to {args.out}")


if __name__ == "__main__":
    main()
