"""Classical baselines: known values and the properties that define each method."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_close, smooth_test_image
from lowface.models.classical import CLAHE, LIME, GammaCorrection, HistogramEqualization, Identity, luma


def as_batch(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float()


def test_identity_and_gamma_known_values():
    x = torch.tensor([0.0, 0.25, 1.0]).view(1, 3, 1, 1)
    assert torch.equal(Identity()(x), x)
    assert_close(GammaCorrection(2.0)(x).flatten(), torch.tensor([0.0, 0.5, 1.0]), rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match="positive"):
        GammaCorrection(0)


def test_histogram_equalization_flattens_luma_histogram():
    dark = smooth_test_image(96, 128) * 0.2
    out = HistogramEqualization()(as_batch(dark))[0].permute(1, 2, 0).numpy()
    y = luma(out)
    assert y.max() > 0.95 and y.min() < 0.05  # full range used
    hist, _ = np.histogram(y, bins=4, range=(0, 1))
    assert hist.min() > 0.15 * y.size  # roughly uniform across quarters
    assert np.all(np.diff(np.sort(np.unique(np.round(luma(dark), 6))))) >= 0  # monotone mapping sanity


def test_histogram_equalization_keeps_hue():
    dark = smooth_test_image() * 0.2
    out = HistogramEqualization()(as_batch(dark))[0].permute(1, 2, 0).numpy()
    bright = luma(dark) > 0.02
    ratio_in = dark[..., 0][bright] / np.maximum(dark[..., 1][bright], 1e-6)
    ratio_out = out[..., 0][bright] / np.maximum(out[..., 1][bright], 1e-6)
    unclipped = out[bright].max(axis=1) < 0.999
    assert_close(ratio_in[unclipped], ratio_out[unclipped], rtol=1e-3, atol=1e-8)


def test_flat_image_is_returned_unchanged_by_histogram_equalization():
    flat = np.full((16, 16, 3), 0.3, np.float32)
    assert_close(HistogramEqualization()(as_batch(flat)).numpy(), 0.3, rtol=1e-5, atol=1e-8)


def test_clahe_brightens_dark_image_within_range():
    dark = smooth_test_image(64, 64) * 0.1
    out = CLAHE()(as_batch(dark))
    assert out.shape == (1, 3, 64, 64) and out.min() >= 0 and out.max() <= 1
    assert out.mean() > 2 * dark.mean()


def test_lime_illumination_refinement_and_output():
    lime = LIME()
    dark = smooth_test_image(40, 50) * 0.25
    t_hat = dark.max(axis=2).astype(np.float64)
    refined = lime.refine(t_hat)
    # The refined map is smoother than the initial one but keeps its mean level.
    assert np.abs(np.diff(refined, axis=1)).mean() < np.abs(np.diff(t_hat, axis=1)).mean()
    assert abs(refined.mean() - t_hat.mean()) < 0.05
    out = lime(as_batch(dark))[0].permute(1, 2, 0).numpy()
    assert out.mean() > 2 * dark.mean() and out.max() <= 1


def test_lime_solves_large_images_downscaled():
    lime = LIME(max_solve_pixels=1000)
    out = lime(as_batch(smooth_test_image(80, 120) * 0.2))
    assert out.shape == (1, 3, 80, 120) and torch.isfinite(out).all()
