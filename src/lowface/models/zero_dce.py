"""Zero-DCE (Guo et al., CVPR 2020) and Zero-DCE++ (Li et al., TPAMI 2021): light-enhancement curves.

A small network predicts per-pixel curve parameters A in [-1, 1]; the image is brightened by applying the
quadratic curve LE(x) = x + A x (1 - x) ``iterations`` times. Zero-DCE predicts a separate A per iteration
(3 x 8 = 24 maps) with plain 3x3 convolutions; Zero-DCE++ predicts one A (3 maps) shared by all iterations
with depthwise-separable convolutions, optionally at 1/``scale_factor`` resolution. Both are trained without
reference images (see :mod:`lowface.losses.zero_reference`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.filters import area_downsample, upsample_bilinear
from lowface.models.base import EnhancementModel
from lowface.registry import MODELS


class CurveOutput(NamedTuple):
    """Enhanced image (B, 3, H, W) in [0, 1] and the curve parameter maps (B, 3 x n, h, w) in [-1, 1]."""

    image: Tensor
    curves: Tensor


def apply_curves(x: Tensor, curves: Tensor, iterations: int) -> Tensor:
    """LE(x) = x + A x (1 - x), ``iterations`` times; ``curves`` holds 3 maps per iteration or 3 shared ones."""
    shared = curves.shape[1] == 3
    for step in range(iterations):
        alpha = curves if shared else curves[:, 3 * step : 3 * step + 3]
        x = x + alpha * x * (1 - x)
    return x


class _SeparableConv(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1 (Zero-DCE++)."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cin, 3, padding=1, groups=cin), nn.Conv2d(cin, cout, 1))


class CurveEstimator(nn.Module):
    """DCE-Net: seven 3x3 layers of ``width`` channels, symmetric skip concatenations, tanh output."""

    # Seven 3x3 convolutions in sequence.
    receptive_radius = 7

    def __init__(self, out_channels: int, width: int = 32, separable: bool = False):
        super().__init__()
        conv = _SeparableConv if separable else (lambda cin, cout: nn.Conv2d(cin, cout, 3, padding=1))
        plain = [conv(3, width), conv(width, width), conv(width, width), conv(width, width)]
        after_skip = [conv(2 * width, width), conv(2 * width, width), conv(2 * width, out_channels)]
        self.layers = nn.ModuleList(plain + after_skip)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, h, w) in [0, 1] -> (B, out_channels, h, w) in [-1, 1]."""
        c1, c2, c3, c4, c5, c6, c7 = self.layers
        x1 = F.relu(c1(x))
        x2 = F.relu(c2(x1))
        x3 = F.relu(c3(x2))
        x4 = F.relu(c4(x3))
        x5 = F.relu(c5(torch.cat([x3, x4], 1)))
        x6 = F.relu(c6(torch.cat([x2, x5], 1)))
        return torch.tanh(c7(torch.cat([x1, x6], 1)))


@MODELS.register("zero_dce")
class ZeroDCE(EnhancementModel):
    """Zero-DCE: 24 curve maps (8 iterations x RGB) at full resolution; 79,416 parameters with width 32.

    Example:
        >>> ZeroDCE()(torch.rand(1, 3, 32, 32)).image.shape
        torch.Size([1, 3, 32, 32])
    """

    size_multiple = 1
    receptive_radius = CurveEstimator.receptive_radius
    default_tile = 1024

    def __init__(self, iterations: int = 8, width: int = 32):
        super().__init__()
        self.iterations = iterations
        self.estimator = CurveEstimator(3 * iterations, width)

    def forward(self, x: Tensor) -> CurveOutput:
        """x: (B, 3, H, W) in [0, 1] -> CurveOutput(image (B, 3, H, W), curves (B, 24, H, W))."""
        curves = self.estimator(x)
        return CurveOutput(apply_curves(x, curves, self.iterations), curves)


@MODELS.register("zero_dce_pp")
class ZeroDCEPlusPlus(EnhancementModel):
    """Zero-DCE++: 3 shared curve maps from a depthwise-separable DCE-Net (10,561 parameters with width 32),
    estimated on the input area-downsampled by ``scale_factor`` and bilinearly upsampled.

    Example:
        >>> ZeroDCEPlusPlus(scale_factor=4)(torch.rand(1, 3, 30, 30)).image.shape
        torch.Size([1, 3, 30, 30])
    """

    default_tile = 2048

    def __init__(self, iterations: int = 8, width: int = 32, scale_factor: int = 1):
        super().__init__()
        self.iterations = iterations
        self.scale_factor = scale_factor
        self.estimator = CurveEstimator(3, width, separable=True)
        # Estimator radius + one bilinear tap, in low-resolution pixels; tiles must start on multiples of it.
        self.receptive_radius = (CurveEstimator.receptive_radius + 1) * scale_factor
        self.size_multiple = scale_factor

    def forward(self, x: Tensor) -> CurveOutput:
        """x: (B, 3, H, W) in [0, 1] -> CurveOutput(image (B, 3, H, W), curves (B, 3, H, W))."""
        if self.scale_factor == 1:
            curves = self.estimator(x)
        else:
            low = area_downsample(x, self.scale_factor)
            # a fixed factor (not a target size) keeps sample positions independent of the image size: exact tiles
            curves = upsample_bilinear(self.estimator(low), self.scale_factor)
            curves = curves[..., : x.shape[-2], : x.shape[-1]]
        return CurveOutput(apply_curves(x, curves, self.iterations), curves)
