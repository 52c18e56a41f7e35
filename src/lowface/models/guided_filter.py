"""Differentiable (fast) guided filtering used to lift a low-resolution illumination map to full size."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def box_mean(x: Tensor, radius: int) -> Tensor:
    """Mean over a (2r+1)^2 window, normalised by the number of in-image pixels at the borders. (B, C, H, W)."""
    return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)


class FastGuidedUpsampler(nn.Module):
    """Per-channel fast guided filter (He & Sun 2015).

    A linear model target ~ a * guide + b is fitted in every (2r+1)^2 window at low resolution; the smoothed
    coefficients are bilinearly upsampled and applied to the full-resolution guide. Differentiable; exact under
    tiling when tiles are aligned to the resolution ratio.
    """

    def __init__(self, radius: int = 2, eps: float = 1e-3):
        super().__init__()
        self.radius = radius
        self.eps = eps

    def forward(self, guide_low: Tensor, target_low: Tensor, guide_high: Tensor, scale: int) -> Tensor:
        """guide_low, target_low: (B, C, h, w); guide_high: (B, C, H, W) with h = ceil(H / scale), w likewise
        -> (B, C, H, W)."""
        r = self.radius
        mean_g = box_mean(guide_low, r)
        mean_t = box_mean(target_low, r)
        cov_gt = box_mean(guide_low * target_low, r) - mean_g * mean_t
        var_g = box_mean(guide_low * guide_low, r) - mean_g * mean_g
        a = cov_gt / (var_g + self.eps)
        b = mean_t - a * mean_g
        height, width = guide_high.shape[-2:]
        a_high = F.interpolate(box_mean(a, r), scale_factor=scale, mode="bilinear", align_corners=False)
        b_high = F.interpolate(box_mean(b, r), scale_factor=scale, mode="bilinear", align_corners=False)
        return a_high[..., :height, :width] * guide_high + b_high[..., :height, :width]
