"""Per SICE validation frame: raw PSNR of lowface-auto with its exposure control minus without it - how many frames
it helps and how many it hurts (the prediction of a well-exposed brightness misses by 0.44 in log mean luma there).

    python benchmarks/exposure_per_frame.py
"""

from __future__ import annotations

import numpy as np
import torch

from lowface.bench.methods import pretrained
from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.inference.statistics import exposure_features
from lowface.io import image_to_tensor, tensor_to_uint8


def main() -> None:
    torch.set_num_threads(2)
    pairs = RealPairsSet.load("../shared/data", "val")
    enhancer = pretrained("lowface-auto")
    target, enhancer.model.exposure = enhancer.model.exposure, None
    gains = []
    for dark, reference in zip(pairs.dark, pairs.references, strict=True):
        out = image_to_tensor(enhancer.enhance(dark))
        settled = target.settle(out.clone(), exposure_features(image_to_tensor(dark)))
        before, after = (pair_fidelity([tensor_to_uint8(o[0])], [reference])["psnr"] for o in (out, settled))
        gains.append(after - before)
    gains = np.array(gains)
    print(
        f"{len(gains)} frames: {int((gains > 0.1).sum())} gain over 0.1 dB, {int((gains < -0.1).sum())} lose over "
        f"0.1 dB, {int((np.abs(gains) <= 0.1).sum())} within 0.1; worst {gains.min():.2f}, best {gains.max():.2f} dB"
    )
    print("sorted:", " ".join(f"{g:.2f}" for g in np.sort(gains)))


if __name__ == "__main__":
    main()
