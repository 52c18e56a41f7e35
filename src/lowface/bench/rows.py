"""The figures of one benchmark row, computed from images: fidelity against references, no-reference quality, the
share of the recognition gap won back and the false matches at the clean threshold (rows are cached by
:mod:`.cache`)."""

from __future__ import annotations

import numpy as np
import torch

from lowface.io import as_float, image_to_tensor
from lowface.metrics.brisque import brisque
from lowface.metrics.fidelity import psnr, ssim
from lowface.metrics.lightness import loe
from lowface.metrics.niqe import niqe

NIQE_MIN_SIDE = 192  # two 96-pixel blocks at the half scale


def mean_fidelity(
    images: list[np.ndarray], references: list[np.ndarray], max_psnr: float | None = 100.0, batch: int = 64
) -> dict[str, float]:
    """Mean PSNR and SSIM of (H, W, 3) images (uint8 or float in [0, 1]) against their references, converted
    to float batch by batch (7,701 LFW images in float32 are 5.8 GB a set). PSNR of identical images is
    ``max_psnr`` (None: inf)."""
    values: dict[str, list] = {"psnr": [], "ssim": []}
    for start in range(0, len(images), batch):
        x = torch.cat([image_to_tensor(as_float(im)) for im in images[start : start + batch]])
        y = torch.cat([image_to_tensor(as_float(im)) for im in references[start : start + batch]])
        scores = psnr(x, y)
        values["psnr"] += (scores if max_psnr is None else scores.clamp(max=max_psnr)).tolist()
        values["ssim"] += ssim(x, y).tolist()
    return {name: float(np.mean(v)) for name, v in values.items()}


def finite_mean(values: list[float]) -> float | None:
    """Mean of the finite values; None where there are none."""
    kept = [v for v in values if np.isfinite(v)]
    return float(np.mean(kept)) if kept else None


def no_reference(images: list[np.ndarray], inputs: list[np.ndarray] | None) -> dict[str, float | None]:
    """Mean NIQE (images whose shorter side allows it), BRISQUE, and LOE against the inputs (None: none); an
    image without texture (a blank output: both scores NaN) is left out of those two means."""
    floats = [as_float(im) for im in images]
    niqe_scores = [niqe(im) for im in floats if min(im.shape[:2]) >= NIQE_MIN_SIDE]
    result: dict[str, float | None] = {"niqe": finite_mean(niqe_scores), "loe": None}
    result["brisque"] = finite_mean([brisque(im) for im in floats])
    if inputs is not None:
        result["loe"] = float(np.mean([loe(as_float(a), b) for a, b in zip(inputs, floats, strict=True)]))
    return result


def add_recovery(rows: dict, judges: list[str]) -> None:
    """recovery = (method - none) / (clean - none) accuracy, where that gap is at least one point (below it, a
    share of it is noise, not a measurement)."""
    if "none" not in rows or "clean" not in rows:
        return
    for row in rows.values():
        for judge in judges:
            low, high = rows["none"]["judges"][judge]["accuracy"], rows["clean"]["judges"][judge]["accuracy"]
            gap = high - low
            row["judges"][judge]["recovery"] = (row["judges"][judge]["accuracy"] - low) / gap if gap >= 0.01 else None


def add_false_matches(rows: dict, judges: list[str], same: list[bool], far: float = 1e-2) -> None:
    """Per judge: the false-accept rate of each method's impostor pairs at the similarity that gives FAR ``far``
    on the clean images' impostor pairs ("far_at_clean"), and the shift of the mean impostor similarity from the
    clean one ("impostor_shift"); both None without impostor pairs (LFW's first 300 pairs are all genuine). 1e-2
    because LFW's 300 impostor pairs per 600 cannot resolve 1e-3."""
    if "clean" not in rows:
        return
    impostor = ~np.asarray(same, bool)
    if not impostor.any():
        for row in rows.values():
            for judge in judges:
                row["judges"][judge].update(far_at_clean=None, impostor_shift=None)
        return
    for judge in judges:
        clean = np.asarray(rows["clean"]["judges"][judge]["scores"])[impostor]
        threshold = float(np.quantile(clean, 1 - far))
        for row in rows.values():
            scores = np.asarray(row["judges"][judge]["scores"])[impostor]
            row["judges"][judge]["far_at_clean"] = float((scores > threshold).mean())
            row["judges"][judge]["impostor_shift"] = float(scores.mean() - clean.mean())
