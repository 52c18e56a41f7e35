"""Is an enhancer's output as contrasted and as colourful as it should be? Its SICE validation frames and CelebA
validation faces (real-mix) with a global stretch about each output's mean luma - contrast x k_c, chroma x k_s -
scored as benchmarks/real_pairs_select.py scores them (validation only: a diagnosis, not a report).

Usage:
    python benchmarks/contrast_check.py --model lowface-restore-real --factors 1,1 1.1,1.1 1.2,1.2 1,1.25 1.2,1

A stretch that raises the paired scores means the network's output is flatter than the references (per-pixel losses
under noise settle for the mean); one that lowers them means the output's contrast is right.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from lowface.bench.methods import pretrained
from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.data.celeba import celeba_split
from lowface.data.synth import synthesize_float32
from lowface.filters import LUMA
from lowface.io import read_image


def stretched(image: np.ndarray, contrast: float, saturation: float) -> np.ndarray:
    """(H, W, 3) in [0, 1] -> uint8: luma stretched by ``contrast`` about its mean, chroma scaled by ``saturation``."""
    luma = image @ np.asarray(LUMA, np.float32)
    chroma = image - luma[..., None]
    out = (luma.mean() + contrast * (luma - luma.mean()))[..., None] + saturation * chroma
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="lowface-restore-real")
    parser.add_argument("--weights", default=None, help="weights for --model's architecture (default: shipped)")
    parser.add_argument("--factors", nargs="+", default=["1,1", "1.1,1.1", "1.2,1.2", "1,1.25", "1.2,1"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    enhancer = pretrained(args.model, args.weights)
    sice = RealPairsSet.load(args.data_root, "val")
    sice_out = [np.clip(enhancer.enhance(d), 0, 1) for d in sice.dark]
    faces = [read_image(p).rgb for p in celeba_split(args.data_root, "val")]
    faces_out = [np.clip(enhancer.enhance(d), 0, 1) for d in synthesize_float32(faces, "real-mix", seed=0)]
    faces_uint8 = [(f * 255).round().astype(np.uint8) for f in faces]
    print(
        f"{args.model} {args.weights or '(shipped)'}: PSNR / matched PSNR / SSIM / matched CIEDE2000, SICE val "
        "frames and CelebA val faces"
    )
    for factor in args.factors:
        contrast, saturation = map(float, factor.split(","))
        scores = [
            pair_fidelity([stretched(o, contrast, saturation) for o in sice_out], sice.references),
            pair_fidelity([stretched(o, contrast, saturation) for o in faces_out], faces_uint8, batch=1),
        ]
        cells = [f"{s['psnr']:.2f} / {s['psnr_matched']:.2f} / {s['ssim']:.3f} / {s['ciede2000_matched']:.2f}"
                 for s in scores]  # fmt: skip
        print(f"contrast x{contrast:g}, chroma x{saturation:g}: SICE val {cells[0]} | faces {cells[1]}", flush=True)


if __name__ == "__main__":
    main()
