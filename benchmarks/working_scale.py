"""Does the illumination estimator's downsampling belong to the image's size? (issue 22, and 1080p quality)

The fast enhancers estimate illumination on the image downsampled by their trained ``scale`` (1/4 for
``lowface-restore-real``, 1/8 for ``lowface-fast-tone``); :meth:`lowface.models.FastEnhanceNet.working_scale` doubles it
for every doubling of the image past ``ESTIMATOR_SIDE`` low-resolution pixels on its short side. This script checks
that choice on validation data only: SICE's val frames (real noise, real references, 512 pixels) upscaled by each
factor (bicubic: the same scene captured at a higher resolution, its noise spread over more pixels), enhanced at the
trained downsampling ("fixed") and at the working one, brought back to 512 pixels (area) and scored against the
scene's reference as ``lowface bench`` scores real pairs (PSNR, brightness-matched PSNR, SSIM, CIEDE2000).

    python benchmarks/working_scale.py --factors 2.1,4.2 --methods lowface-restore-real,lowface-fast-tone \
        --out benchmarks/results/working_scale/sice_val.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import provenance, write_results

from lowface.bench.methods import pretrained
from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.models import FastEnhanceNet

KEYS = ("psnr", "psnr_matched", "ssim", "ciede2000")


def scored(enhancer, pairs: RealPairsSet, factor: float) -> dict[str, float]:
    """Every val frame upscaled by ``factor``, enhanced, downscaled back and scored against its reference."""
    outputs = []
    for dark in pairs.dark:
        height, width = dark.shape[:2]
        size = (round(width * factor), round(height * factor))
        large = np.ascontiguousarray(cv2.resize(dark, size, interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0))
        out = np.asarray(enhancer.enhance(large), np.float32)
        out = cv2.resize(out, (width, height), interpolation=cv2.INTER_AREA)
        outputs.append(np.round(out.clip(0.0, 1.0) * 255).astype(np.uint8))
    return pair_fidelity(outputs, pairs.references)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--factors", default="2.1,4.2", help="upscaling factors of the 512-pixel val frames")
    parser.add_argument("--methods", default="lowface-restore-real,lowface-fast-tone")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/working_scale/sice_val.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pairs = RealPairsSet.load(args.data_root, "val")
    record = {**provenance(args.threads), "frames": len(pairs.dark), "rows": []}
    lines = [f"Command: `{record['command']}`, {record['date']}, {record['machine']}. SICE val, {len(pairs.dark)} "
             "under-exposed frames upscaled by the factor, enhanced, scored at 512 pixels against their references.",
             "", "| method | factor | short side | estimated at | PSNR | matched PSNR | SSIM | CIEDE2000 | s |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    trained_side = FastEnhanceNet.ESTIMATOR_SIDE
    for method in args.methods.split(","):
        enhancer = pretrained(method, None)
        estimators = [m for m in enhancer.model.modules() if isinstance(m, FastEnhanceNet)]  # two in a routed pair
        for factor in map(float, args.factors.split(",")):
            side = round(512 * factor)
            for arm, estimator_side in (("fixed", 10**9), ("working", trained_side)):
                FastEnhanceNet.ESTIMATOR_SIDE = estimator_side
                scales = sorted({m.working_scale(side, side) for m in estimators})
                start = time.perf_counter()
                r = scored(enhancer, pairs, factor)
                seconds = time.perf_counter() - start
                record["rows"].append({"method": method, "factor": factor, "arm": arm, "scales": scales, **r})
                lines.append(f"| {method} | {factor} | {side} | {', '.join(f'1/{k}' for k in scales)} ({arm}) | "
                             + " | ".join(f"{r[k]:.3f}" for k in KEYS) + f" | {seconds:.0f} |")  # fmt: skip
                print(lines[-1], flush=True)
            FastEnhanceNet.ESTIMATOR_SIDE = trained_side
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
