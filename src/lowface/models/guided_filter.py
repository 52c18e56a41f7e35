"""Differentiable (fast) guided filtering used to lift a low-resolution illumination map to full size."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from lowface.filters import box_mean, exp_, log_, plain_inference, upsample_bilinear

GuideDomain = Literal["linear", "log"]
LOG_OFFSET = 1 / 255  # log(x + 1/255): a black pixel stays finite, one 8-bit step above it is ~0.7 apart


class FastGuidedUpsampler(nn.Module):
    """Per-channel fast guided filter (He & Sun 2015).

    A linear model target ~ a * guide + b is fitted in every (2r+1)^2 window at low resolution; the smoothed
    coefficients are bilinearly upsampled and applied to the full-resolution guide. Differentiable; exact under
    tiling when tiles are aligned to the resolution ratio.

    ``domain="log"`` fits log(target) ~ a log(guide + 1/255) + b instead, i.e. target = e^b (guide + 1/255)^a: a
    local power law. Any tone curve of the form R = c S^k is then reproduced exactly across edges, where the
    linear fit has to bend a step between a lamp and its dark surroundings into a straight line and leaves a
    dark ring (halo) around the lamp (measured: 10 % darker next to a lamp for a strong brightening curve,
    under 1 % in the log domain). Its ``eps`` is in squared log units, so it is the same for a dark and a
    bright image; the linear fit's is in squared intensity and turns into a plain box blur in dark images.
    """

    def __init__(self, radius: int = 2, eps: float = 1e-3, domain: GuideDomain = "linear"):
        super().__init__()
        if domain not in ("linear", "log"):
            raise ValueError(f"guided filter domain must be 'linear' or 'log', got {domain!r}")
        self.radius, self.eps, self.domain = radius, eps, domain

    def forward(self, guide_low: Tensor, target_low: Tensor, guide_high: Tensor, scale: int) -> Tensor:
        """guide_low, target_low: (B, C, h, w), target > 0 in the log domain; guide_high: (B, C, H, W) with
        h = ceil(H / scale), w likewise -> (B, C, H, W)."""
        height, width = guide_high.shape[-2:]
        coefficients = upsample_bilinear(self.coefficients(guide_low, target_low), scale)
        a_high, b_high = coefficients[..., :height, :width].chunk(2, dim=1)
        return self.apply_models(a_high, b_high, guide_high)

    def coefficients(self, guide_low: Tensor, target_low: Tensor) -> Tensor:
        """The smoothed low-resolution linear models: (B, C, h, w) twice -> (B, 2C, h, w), a then b."""
        if self.domain == "log":
            guide_low, target_low = torch.log(guide_low + LOG_OFFSET), torch.log(target_low)
        r = self.radius
        mean_g = box_mean(guide_low, r)
        mean_t = box_mean(target_low, r)
        cov_gt = box_mean(guide_low * target_low, r) - mean_g * mean_t
        var_g = box_mean(guide_low * guide_low, r) - mean_g * mean_g
        a = cov_gt / (var_g + self.eps)
        b = mean_t - a * mean_g
        return torch.cat([box_mean(a, r), box_mean(b, r)], 1)

    def apply_models(self, a_high: Tensor, b_high: Tensor, guide_high: Tensor, out: Tensor | None = None) -> Tensor:
        """The upsampled models on the full-resolution guide, all (B, C, H, W) -> target (B, C, H, W) (written into
        ``out`` when given: plain inference, where the band loop's illumination map is filled in place)."""
        if self.domain == "log":  # (in place on the sum in plain inference, through OpenCV: the same values, faster)
            guide_high = log_(guide_high + LOG_OFFSET) if plain_inference() else torch.log(guide_high + LOG_OFFSET)
        out = torch.addcmul(b_high, a_high, guide_high, out=out)
        if self.domain != "log":
            return out
        return exp_(out) if plain_inference() else torch.exp(out)  # in place when nothing needs the input kept


def upsample_bilinear_rows(x: Tensor, scale: int, top: int, rows: int) -> Tensor:
    """Rows ``top`` to ``top + rows`` of ``upsample_bilinear(x, scale)`` ((B, C, h, w) -> (B, C, rows, w * scale)),
    from the few low-resolution rows they need (``top`` a multiple of ``scale``): the same values, since every kept
    row interpolates between rows inside the slice, as it does inside the whole map, or clamps at the map's own
    border."""
    first = max(top // scale - 1, 0)
    last = min(-(-(top + rows) // scale) + 1, x.shape[-2])
    band = upsample_bilinear(x[..., first:last, :].contiguous(), scale)
    return band[..., top - first * scale : top - first * scale + rows, :]
