"""Colour noise the denoiser leaves: the output's chroma smoothed along its luma where the input was dark.

The restoring network subtracts only the high-passed part of the noise it predicts (``RestoreNet.detail_sigma``), and a
camera's demosaicing and JPEG turn sensor noise into colour blotches several pixels wide; brightened, they show as
red and green mottle on faces and skies. :class:`ChromaSmoothing` replaces the output's chroma (RGB minus BT.601
luma) by a guided filter of it (He et al. 2013) with the output's own luma as the guide: in a flat region the local
mean colour, across an edge of the luma the colour follows it, so colour does not bleed between surfaces. Luma (the
detail, and what the exposure control set) is kept exactly. Only where the input was dark - its local mean luma below
``dark[1]``, fully below ``dark[0]`` - since that is where brightening amplified the noise.

Chosen on validation data (``benchmarks/chroma_smoothing.py``): CelebA's validation people under ``real-mix``, SICE's
validation scenes and LFW's training list; see ``benchmarks/results/chroma_smoothing/README.md``.

The filter's statistics are taken on ``factor``-pixel block means (a fast guided filter, He & Sun 2015) with a radius
that grows with the image, and applied ``ROWS_PER_CHUNK`` rows at a time: no full-size temporary but one chunk's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from lowface.filters import area_downsample, box_mean, luma
from lowface.models.guided_filter import upsample_bilinear_rows

ROWS_PER_CHUNK = 128  # (256: 1-2 ms slower at 1080p, one thread; 64: no faster)


@dataclass(frozen=True)
class ChromaSmoothing:
    """Luma-guided chroma smoothing of an enhanced image where its input was dark (see the module)."""

    radius_share: float = 1 / 128  # the filter's radius: this share of the image's shorter side (at least 1 pixel)
    eps: float = 1e-3  # the guided filter's regulariser (squared luma): larger smooths across fainter edges
    dark: tuple[float, float] = (0.02, 0.1)  # input local mean luma: fully smoothed below the first, untouched above

    def __post_init__(self):
        object.__setattr__(self, "dark", tuple(float(v) for v in self.dark))  # (a JSON list in a model card)
        if not (self.radius_share > 0 and self.eps > 0 and 0 < self.dark[0] < self.dark[1]):
            raise ValueError(f"chroma smoothing needs radius_share > 0, eps > 0 and 0 < dark[0] < dark[1], got "
                             f"{self.radius_share}, {self.eps}, {self.dark}")  # fmt: skip

    def scales(self, height: int, width: int) -> tuple[int, int]:
        """The filter's (radius in block units, block size in pixels) for an image of this size: the radius in
        pixels is ``radius_share`` of the shorter side; radii of 4 pixels and up are taken on blocks of half the
        radius (a radius of 2 blocks)."""
        radius = max(1, round(min(height, width) * self.radius_share))
        factor = max(1, radius // 2)
        return max(1, round(radius / factor)), factor

    def weight(self, dark_level: Tensor) -> Tensor:
        """Local mean luma of the input (any shape) -> the share of the smoothing, 1 below ``dark[0]``, 0 above
        ``dark[1]``, linear in log luma between."""
        low, high = math.log(self.dark[0]), math.log(self.dark[1])
        return ((high - dark_level.clamp_min(1e-4).log()) / (high - low)).clamp_(0, 1)

    def apply_(self, out: Tensor, x: Tensor) -> Tensor:
        """out (B, 3, H, W) in [0, 1], enhanced from x (B, 3, H, W): its chroma smoothed where x was dark, in place
        (clamped to [0, 1]); returns out."""
        height, width = out.shape[-2:]
        radius, factor = self.scales(height, width)
        weight = self.weight(box_mean(luma(area_downsample(x.float(), factor)), radius))  # (luma is linear)
        if not bool((weight > 0).any()):  # nothing dark: nothing to do
            return out
        low = area_downsample(out.float(), factor)
        y = luma(low)
        chroma = low - y
        mean_y = box_mean(y, radius)
        var_y = box_mean(y * y, radius) - mean_y * mean_y
        mean_c = box_mean(chroma, radius)
        a = (box_mean(y * chroma, radius) - mean_y * mean_c) / (var_y + self.eps)
        b = mean_c - a * mean_y
        # out + w (a y + b - (out - y)) = (1 - w) out + (w a + w) y + w b: three maps per block, upsampled a chunk of
        # rows at a time
        models = torch.cat([1 - weight, (box_mean(a, radius) + 1) * weight, box_mean(b, radius) * weight], 1)
        step = factor * -(-ROWS_PER_CHUNK // factor)  # (chunks start on block rows)
        luma_buffer = out.new_empty(out.shape[0], 1, min(step, height), width)
        for top in range(0, height, step):
            rows = out[..., top : top + step, :]
            reach = weight[..., max(top // factor - 1, 0) : -(-(top + rows.shape[-2]) // factor) + 1, :]
            if not bool((reach > 0).any()):  # (these rows' weight is 0: they stay as they are, bit for bit)
                continue
            band = upsample_bilinear_rows(models, factor, top, rows.shape[-2])[..., :width].to(rows)
            row_luma = luma(rows, out=luma_buffer[..., : rows.shape[-2], :])
            rows.mul_(band[:, :1]).addcmul_(band[:, 1:4], row_luma).add_(band[:, 4:]).clamp_(0, 1)
        return out
