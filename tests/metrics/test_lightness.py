"""Lightness-order error: zero for monotonic mappings, large for order-breaking ones."""

from __future__ import annotations

import numpy as np
import pytest

from lowface.metrics.lightness import loe


def test_monotonic_mappings_keep_the_order():
    rng = np.random.default_rng(0)
    low = rng.uniform(0, 0.3, (80, 120, 3))
    assert loe(low, low) == 0
    assert loe(low, low * 3) == 0  # a gain commutes with the downsampling: exactly no order change
    smooth = np.tile(np.linspace(0.01, 0.3, 120)[None, :, None], (80, 1, 3)) * np.linspace(0.5, 1, 80)[:, None, None]
    assert loe(smooth, smooth ** (1 / 2.2)) < 0.01 * 50 * 75  # gamma: at most rare ties broken by the averaging


def test_inverting_the_lightness_breaks_almost_every_pair():
    ramp = np.tile(np.linspace(0.01, 0.3, 100)[None, :, None], (100, 1, 3))
    value = loe(ramp, 1 - ramp)  # 50 x 50 after downsampling: pairs of different columns swap order
    assert value == pytest.approx(2500 * 49 / 50, rel=0.02)


def test_sizes_must_match():
    with pytest.raises(ValueError, match="one size"):
        loe(np.zeros((60, 60, 3)), np.zeros((60, 61, 3)))
