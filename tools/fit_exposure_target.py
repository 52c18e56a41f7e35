"""Fit the default's exposure target (lowface.inference.exposure) and write it into the package.

Usage: python tools/fit_exposure_target.py --data-root ../shared/data --share 0.5 --darken-only
       [--out src/lowface/weights/exposure_target.json]

Data, training material only (no LFW test identity, no SICE validation or test scene, no benchmark preset): SICE's
train scenes, each under-exposed frame's features -> the log mean luma of its scene's reference; LFW's training list
darkened by each training preset of tools/fit_exposure_gate.py (seed 1) -> the log mean luma of the clean image. The
two groups weigh the same; weighted least squares on standardised features, ridge 1e-3. ``--share`` (the part of the
way an output brighter than the target is moved down), ``--brighten-share`` and ``--max-lift`` (the same for an
output darker than it, and a bound on that lift) are chosen on SICE's validation scenes by benchmarks/exposure_share.py
and by looking at the real photos. The report gives the
root mean squared error in log mean luma per group, of the fit and of the validation scenes it did not see.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.data.lfw import lfw_train_images
from lowface.data.sice import sice_pairs
from lowface.data.synth import synthesize
from lowface.filters import mean_luma
from lowface.inference.exposure import ExposureTarget
from lowface.inference.logistic import fit_linear
from lowface.inference.statistics import exposure_features, select_statistics
from lowface.io import as_float, image_to_tensor, read_image

DARK_PRESETS = ("linear-wide", "camera-range", "physical-range", "scale-noise-range")


def features_of(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) image -> (1, 4) the target's brightness statistics."""
    return select_statistics(exposure_features(image_to_tensor(as_float(image))), ExposureTarget.FEATURES)


def sice_group(data_root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A SICE split's under-exposed frames: (N, 4) features, (N,) log mean luma of their scenes' references."""
    features, targets, references = [], [], {}
    for dark, reference in tqdm(sice_pairs(data_root, split), desc=f"SICE {split}", unit="frame"):
        if reference not in references:
            references[reference] = np.log(mean_luma(as_float(read_image(reference).rgb)))
        features.append(features_of(read_image(dark).rgb))
        targets.append(references[reference])
    return torch.cat(features).double(), torch.tensor(targets, dtype=torch.float64)


def lfw_group(data_root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """LFW's training list under each training preset: (N, 4) features, (N,) log mean luma of the clean images."""
    clean = [read_image(p).rgb for p in tqdm(lfw_train_images(data_root), desc="LFW train", unit="img")]
    levels = torch.tensor([np.log(mean_luma(as_float(image))) for image in clean], dtype=torch.float64)
    features = [torch.cat([features_of(image) for image in synthesize(clean, preset, seed=1)[0]])
                for preset in tqdm(DARK_PRESETS, desc="presets")]  # fmt: skip
    return torch.cat(features).double(), levels.repeat(len(DARK_PRESETS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    share_help = "Part of the way down to the target for an output brighter than it, in [0, 1]."
    lift_help = "Part of the way up to the target for an output darker than it, in [0, 1] (0: only darken)."
    parser.add_argument("--share", type=float, required=True, help=share_help)
    parser.add_argument("--brighten-share", type=float, default=0.0, help=lift_help)
    parser.add_argument("--max-lift", type=float, default=None, help="Brighten by at most this in log mean luma.")
    parser.add_argument("--darken-only", action="store_true", help="Only darken (the same as --brighten-share 0).")
    parser.add_argument("--out", type=Path, default=Path("src/lowface/weights/exposure_target.json"))
    args = parser.parse_args()
    for name in ("share", "brighten_share"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            parser.error(f"--{name.replace('_', '-')} must be in [0, 1], got {getattr(args, name)}")
    if args.max_lift is not None and args.max_lift < 0:
        parser.error(f"--max-lift must be at least 0, got {args.max_lift}")

    groups = {"sice-train": sice_group(args.data_root, "train"), "lfw-train": lfw_group(args.data_root)}
    x = torch.cat([features for features, _ in groups.values()])
    y = torch.cat([targets for _, targets in groups.values()])
    weight = torch.cat([torch.full((len(t),), 1.0 / len(t), dtype=torch.float64) for _, t in groups.values()])
    fit = fit_linear(x, y, weight)
    lift = math.inf if args.max_lift is None else args.max_lift
    brighten_share = 0.0 if args.darken_only else args.brighten_share
    target = ExposureTarget(fit.mean, fit.std, fit.coef, fit.bias, args.share, brighten_share, lift)

    groups["sice-val"] = sice_group(args.data_root, "val")
    summary = {}
    for name, (features, targets) in groups.items():
        error = target.linear_from_features(features) - targets
        summary[name] = {"fitted_on": name != "sice-val", "images": len(targets),
                         "rms_log_error": round(float(error.pow(2).mean().sqrt()), 4)}  # fmt: skip
        print(f"{name:12s} {len(targets):5d} images  rms error in log mean luma {summary[name]['rms_log_error']:.3f}")
    target.save(
        args.out,
        training_data="SICE train scenes: under-exposed frames -> their references' mean luma; LFW train_images.txt "
        f"darkened by {list(DARK_PRESETS)} -> the clean images' mean luma; two groups weighted equally",
        share_chosen_by="benchmarks/exposure_share.py on SICE's validation scenes",
        fit_summary=summary,
    )
    print(f"exposure target written to {args.out}")


if __name__ == "__main__":
    main()
