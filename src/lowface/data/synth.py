"""Low-light synthesis. Linear darkening with the paper's Algorithm 1 (set-mean brightness target).

Images are float RGB in [0, 1], (H, W, 3) NumPy arrays; outputs are quantised to 8 bits like a saved file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LUMA = np.asarray([0.299, 0.587, 0.114])


def mean_luma(image: np.ndarray) -> float:
    """Eq. 12: mean of 0.299 r + 0.587 g + 0.114 b over the image."""
    return float((image[..., :3] @ LUMA).mean())


def darken_linear(image: np.ndarray, ratio: float, quantize: bool = True) -> np.ndarray:
    """S_low = S * ratio, optionally quantised to 8 bits. (H, W, 3) float in [0, 1] -> same."""
    out = np.clip(image * ratio, 0.0, 1.0)
    return np.round(out * 255.0) / 255.0 if quantize else out


@dataclass(frozen=True)
class LinearDarkeningPlan:
    """The outcome of Algorithm 1: one ratio per kept image, the final interval, and the set's mean luma."""

    kept: list[int]
    ratios: np.ndarray
    ratio_range: tuple[float, float]
    set_brightness: float


def plan_linear_darkening(
    images: Sequence[np.ndarray],
    ratio_range: tuple[float, float] = (0.35, 0.45),
    target_brightness: float | None = None,
    tolerance: float = 0.01,
    min_size: tuple[int, int] = (0, 0),
    seed: int = 0,
    max_rounds: int = 50,
) -> LinearDarkeningPlan:
    """Algorithm 1: drop images smaller than ``min_size`` (h, w); draw a ratio per image uniformly from
    ``ratio_range``; if the darkened set's mean luma is not within ``tolerance`` of ``target_brightness``,
    rescale the interval by target / achieved and redraw (same seed) until it is.
    """
    lo, hi = ratio_range
    if not 0 < lo <= hi:
        raise ValueError(f"ratio_range must satisfy 0 < min <= max, got {ratio_range}")
    kept = [i for i, im in enumerate(images) if im.shape[0] >= min_size[0] and im.shape[1] >= min_size[1]]
    if not kept:
        raise ValueError("no image passes the minimum size")
    for _ in range(max_rounds):
        ratios = np.random.default_rng(seed).uniform(lo, hi, len(kept))
        achieved = float(np.mean([mean_luma(darken_linear(images[i], r)) for i, r in zip(kept, ratios, strict=True)]))
        if target_brightness is None or abs(achieved - target_brightness) < tolerance:
            return LinearDarkeningPlan(kept, ratios, (lo, hi), achieved)
        scale = target_brightness / max(achieved, 1e-6)
        lo, hi = lo * scale, hi * scale
    raise ValueError(
        f"cannot reach mean brightness {target_brightness} +- {tolerance} (last interval {lo:.3f}..{hi:.3f})"
    )
