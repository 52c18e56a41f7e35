"""Lightness-order error (LOE, Wang et al. 2013, the NPE paper): does enhancement keep which pixel is brighter?

Lower is better; 0 for any globally monotonic mapping (gamma, gain). As the reference code: lightness = max
over RGB; both lightness maps downsampled so that the shorter side is 50 pixels (here by area averaging; the
reference uses MATLAB's bicubic imresize, so values differ slightly); for every pixel, the number of pixels
whose order relative to it differs between input and output, averaged over pixels (a count from 0 to N - 1;
N = 2,500 for square images).
"""

from __future__ import annotations

import cv2
import numpy as np

from lowface.metrics.catalogue import register_metric

SHORT_SIDE = 50


def _lightness(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Max over RGB, area-downsampled to ``size`` (width, height), flattened."""
    return cv2.resize(np.asarray(rgb, np.float64).max(2), size, interpolation=cv2.INTER_AREA).ravel()


@register_metric("loe", "LOE", higher_is_better=False, fmt="{:.1f}")
def loe(low: np.ndarray, enhanced: np.ndarray) -> float:
    """LOE of ``enhanced`` against its input ``low``; both (H, W, 3) in [0, 1], same size."""
    if low.shape != enhanced.shape:
        raise ValueError(f"LOE needs images of one size, got {low.shape} and {enhanced.shape}")
    height, width = low.shape[:2]
    ratio = SHORT_SIDE / min(height, width)
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    before, after = _lightness(low, size), _lightness(enhanced, size)
    total = 0
    for start in range(0, before.size, 256):  # chunks bound the (chunk, N) comparison matrices
        order_before = before[start : start + 256, None] >= before[None, :]
        order_after = after[start : start + 256, None] >= after[None, :]
        total += int(np.count_nonzero(order_before != order_after))
    return total / before.size
