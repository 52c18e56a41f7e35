"""Training losses: known values, invariances that matter, float64 gradchecks."""

from __future__ import annotations

import torch

from lowface.backbones.base import FeatureExtractor
from lowface.losses import (
    BrightnessContrastLoss,
    ColorLoss,
    FeatureContrastLoss,
    LowFaceNetObjective,
    PerceptualLoss,
    SmoothLoss,
)
from lowface.losses.contrastive import contrast_ratio
from lowface.losses.feature import NEIGHBOUR_OFFSETS, gaussian_blur
from lowface.models import EnhanceNet


class TinyFeatures(FeatureExtractor):
    """A fixed random conv stack standing in for a pretrained backbone in unit tests."""

    TAPS = {"s2": 0, "s4": 1, "s8": 2, "s16": 3}  # noqa: RUF012

    def __init__(self):
        super().__init__((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
        torch.manual_seed(0)
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(c, 8, 3, stride=2, padding=1) for c in (3, 8, 8, 8))
        self.freeze()

    def extract(self, x, taps):
        out, h = {}, x
        for name, conv in zip(self.TAPS, self.convs, strict=True):
            h = torch.relu(conv(h))
            if name in taps:
                out[name] = h
        return out


def test_twenty_four_directions():
    assert len(NEIGHBOUR_OFFSETS) == 24 and len(set(NEIGHBOUR_OFFSETS)) == 24
    assert {max(abs(dy), abs(dx)) for dy, dx in NEIGHBOUR_OFFSETS} == {1, 2}


def test_smooth_loss_zero_for_constant_illumination_and_edge_aware():
    low = torch.zeros(1, 3, 16, 16)
    low[..., 8:] = 1.0  # a strong edge in the input
    assert SmoothLoss()(torch.full_like(low, 0.4), low) == 0
    step = torch.zeros_like(low)
    step[..., 8:] = 1.0
    flat_input = torch.zeros_like(low)
    # The same illumination edge costs far less where the input has an edge than where it is flat.
    assert SmoothLoss()(step, low) < 0.1 * SmoothLoss()(step, flat_input)


def test_color_loss_sees_colour_not_just_brightness():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    x[:, 0] += 0.5
    permuted = x[:, [1, 2, 0]]
    assert ColorLoss()(x, x) == 0
    assert ColorLoss()(x, permuted) > 1e-3  # the official code's channel-mixing blur scores ~1e-14 here


def test_gaussian_blur_preserves_constants_and_is_per_channel():
    x = torch.stack([torch.full((20, 20), v) for v in (0.1, 0.5, 0.9)])[None]
    assert torch.allclose(gaussian_blur(x, 3.0), x, atol=1e-6)


def test_contrast_ratio_known_value():
    a, p, n = torch.zeros(4), torch.full((4,), 0.1), torch.full((4,), 0.5)
    assert torch.isclose(contrast_ratio(a, p, n), torch.tensor(0.1 / (0.5 + 1e-7)))


def test_brightness_contrast_prefers_positive_like_output():
    torch.manual_seed(0)
    positive, negative = torch.rand(2, 3, 32, 32) * 0.8 + 0.2, torch.rand(2, 3, 32, 32) * 0.1
    loss = BrightnessContrastLoss()
    assert loss(positive * 0.98, positive, negative) < 0.1 * loss(negative * 1.02, positive, negative)


def test_feature_contrast_and_perceptual_with_a_feature_extractor():
    features = TinyFeatures()
    torch.manual_seed(0)
    positive, negative = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32) * 0.1
    loss = FeatureContrastLoss(features)
    assert loss(positive, positive, negative) < 1e-6
    assert loss(negative, positive, negative) > 1.0
    assert PerceptualLoss(features)(negative, negative) == 0
    no_neg = FeatureContrastLoss(features, use_negatives=False)
    assert no_neg(positive, positive, negative) < 1e-6


def test_losses_gradcheck_float64():
    torch.manual_seed(0)
    low = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    illum = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda i: SmoothLoss()(i + 0.01 * torch.arange(64).view(1, 1, 8, 8), low), illum)
    positive = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda e: ColorLoss(sigma=1.0)(e, positive), illum)


def test_objective_terms_switchable_and_gradients_reach_the_network():
    features = TinyFeatures()
    torch.manual_seed(0)
    net = EnhanceNet()
    low = torch.rand(2, 3, 32, 32) * 0.2
    positive, negative = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32) * 0.2
    full = LowFaceNetObjective(features)
    total, terms = full(low, net(low), positive, negative)
    assert set(terms) == {"feature_cr", "brightness_cr", "perceptual", "color", "smooth"}
    total.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    ablated = LowFaceNetObjective(features, {"perceptual": 1.0, "color": 0.05})
    assert set(ablated(low, net(low), positive, negative)[1]) == {"perceptual", "color"}
