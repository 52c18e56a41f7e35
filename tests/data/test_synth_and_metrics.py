"""Algorithm 1 linear darkening and the fidelity metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_close, smooth_test_image
from lowface.data.synth import darken_linear, mean_luma, plan_linear_darkening
from lowface.metrics.fidelity import psnr, ssim


def test_darken_linear_and_luma():
    image = np.full((8, 8, 3), [1.0, 0.5, 0.0], np.float32)
    assert mean_luma(image) == pytest.approx(0.299 + 0.587 * 0.5)
    out = darken_linear(image, 0.4)
    assert_close(out, np.round(image * 0.4 * 255) / 255, rtol=1e-5, atol=1e-8)


def test_algorithm1_reaches_target_brightness_reproducibly():
    images = [smooth_test_image(32, 32, seed=s) for s in range(12)] + [smooth_test_image(8, 8)]
    plan = plan_linear_darkening(images, (0.35, 0.45), target_brightness=0.12, min_size=(16, 16), seed=3)
    assert 12 not in plan.kept and len(plan.kept) == 12  # the too-small image is dropped
    assert abs(plan.set_brightness - 0.12) < 0.01
    assert plan.ratio_range != (0.35, 0.45)  # the interval had to be adjusted
    again = plan_linear_darkening(images, (0.35, 0.45), target_brightness=0.12, min_size=(16, 16), seed=3)
    assert np.array_equal(plan.ratios, again.ratios)
    other = plan_linear_darkening(images, (0.35, 0.45), target_brightness=0.12, min_size=(16, 16), seed=4)
    assert not np.array_equal(plan.ratios, other.ratios)


def test_algorithm1_without_target_keeps_the_interval():
    images = [smooth_test_image(16, 16, seed=s) for s in range(5)]
    plan = plan_linear_darkening(images, (0.2, 0.3), seed=0)
    assert plan.ratio_range == (0.2, 0.3) and np.all((plan.ratios >= 0.2) & (plan.ratios <= 0.3))
    with pytest.raises(ValueError, match="ratio_range"):
        plan_linear_darkening(images, (0.5, 0.2))


def test_psnr_known_value():
    x = torch.zeros(1, 3, 4, 4)
    y = torch.full((1, 3, 4, 4), 0.1)
    assert psnr(x, y).item() == pytest.approx(20.0, abs=1e-4)


def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    a = smooth_test_image(48, 48)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    ours = ssim(torch.from_numpy(a).permute(2, 0, 1)[None], torch.from_numpy(b).permute(2, 0, 1)[None]).item()
    ref = metrics.structural_similarity(
        a, b, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ours == pytest.approx(ref, abs=1e-4)
    assert ssim(
        torch.from_numpy(a).permute(2, 0, 1)[None], torch.from_numpy(a).permute(2, 0, 1)[None]
    ) == pytest.approx(1)
