"""Dark (or bright) rings round light sources: what a light source does to the enhancement of its surroundings.

A light source is painted into a dark frame (``lowface.data.lights``); a pointwise tone curve (gamma) leaves every
other pixel as it was, while an enhancer whose illumination estimate spreads the light's brightness over its
receptive field darkens a band round it - the halo of issue 20. The ring ratio compares the enhanced lit frame with
the enhanced unlit one in that band.
"""

from __future__ import annotations

import numpy as np

from lowface.filters import mean_luma

RING_BAND = (2.0, 32.0)  # pixels from the light's core: past its edge, where the shipped network's rings are deepest


def ring_ratio(
    lit: np.ndarray, unlit: np.ndarray, distance: np.ndarray, band: tuple[float, float] = RING_BAND
) -> float:
    """Mean luma of ``lit`` over the pixels ``band[0] < distance <= band[1]`` divided by that of ``unlit``: 1 when the
    light leaves its surroundings alone, below 1 for a dark ring, above for a bright one. ``lit``, ``unlit``: (H, W,
    3) enhanced frames in [0, 1] with and without the light; ``distance`` (H, W) pixels from its core. NaN when the
    band is empty or black in ``unlit``."""
    if lit.shape != unlit.shape or lit.shape[:2] != distance.shape:
        raise ValueError(f"ring ratio needs one size, got {lit.shape}, {unlit.shape} and {distance.shape}")
    band_mask = (distance > band[0]) & (distance <= band[1])
    if not band_mask.any():
        return float("nan")
    unlit_mean = mean_luma(unlit[band_mask])
    if unlit_mean <= 0:
        return float("nan")
    return mean_luma(lit[band_mask]) / unlit_mean
