"""Feature-space metrics on the offline ImageNet backbone: known values, identities, monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import smooth_test_image
from lowface.metrics.deep import (
    PooledFeatures,
    _mmd2_unbiased,
    create_extractor,
    feature_distance,
    frechet_distance,
    kid,
)


def test_mmd2_unbiased_known_value():
    # d = 1, k(x, y) = (x y + 1)^3: within a = 1, within b = 1, cross mean = (1 + 1 + 1 + 27) / 4
    assert _mmd2_unbiased(np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])) == pytest.approx(1 + 1 - 2 * 7.5)


def test_kid_is_near_zero_within_a_distribution_and_positive_across():
    rng = np.random.default_rng(0)
    a, b, shifted = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)), rng.normal(1.0, 1.0, size=(300, 8))
    assert abs(kid(a, b)) < 0.05
    assert kid(a, shifted) > 1.0
    with pytest.raises(ValueError, match="at least 2 samples"):
        kid(a[:1], b)


def test_frechet_distance_known_value_in_one_dimension():
    # (0 - 1)^2 + 1 + 4 - 2 sqrt(1 * 4) = 2
    assert frechet_distance(np.zeros(1), np.eye(1), np.ones(1), 4 * np.eye(1)) == pytest.approx(2.0)
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert frechet_distance(np.ones(2), cov, np.ones(2), cov) == pytest.approx(0.0, abs=1e-8)


def test_feature_distance_is_zero_for_identical_images_and_grows_with_noise():
    extractor = create_extractor()
    x = torch.from_numpy(smooth_test_image(64, 64)).permute(2, 0, 1)[None]
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(x.shape, generator=generator)
    distances = [feature_distance(x, (x + s * noise).clamp(0, 1), extractor).item() for s in (0.0, 0.02, 0.1)]
    assert distances[0] == pytest.approx(0.0, abs=1e-6)
    assert 0 < distances[1] < distances[2]
    y = (x + 0.05 * noise).clamp(0, 1)
    assert feature_distance(x, y, extractor).item() == pytest.approx(feature_distance(y, x, extractor).item())


def test_pooled_features_shape():
    features = PooledFeatures()(torch.rand(2, 3, 64, 64))
    assert features.shape == (2, 1280) and np.isfinite(features).all()
