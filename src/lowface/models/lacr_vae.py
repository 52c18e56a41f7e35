"""LACR-VAE (Wu et al., ACM TOMM 2024, seed 004), designed from its abstract: only the abstract is available.

What the abstract fixes, and how it is built here:
- "VAE": an encoder maps the low-light image to a Gaussian latent (mean, log-variance) at 1/4 resolution; a
  decoder with encoder skips maps a sample (the mean at inference) to the enhanced image. Trained on pairs with
  L1 to the clean image and a small KL term (:mod:`lowface.losses.lacr`).
- "Light-Aware Contrastive Regularization": latent means of the enhanced image are pulled toward those of the
  clean image and pushed away from those of the low-light input (ratio of L1 distances; the same encoder
  embeds all three, the clean and low latents without gradient).
- "Region-CAlibrated Module" (RCAM), "local and global illumination relations among image regions": the
  feature map is pooled into a 4x4 grid of region tokens, self-attention relates every region to every other
  (local and global), a global token summarises the image, and the attended tokens, upsampled, gate the
  features (sigmoid calibration, residual).
- "Attention-guided Multi-Scale Module" (AMSM): three 3x3 branches with dilations 1, 2 and 4 (receptive fields
  of several sizes, as regions of uneven light come in several sizes), fused with per-branch channel
  attention weights (softmax over branches, squeeze-and-excitation style), residual.
The enhanced image is the input times a positive per-pixel gain plus a residual, clamped to [0, 1].
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.models.base import EnhancementModel
from lowface.models.enhance_net import clamp_passing_gradient
from lowface.registry import MODELS

INITIAL_LOG_GAIN = math.log(4.0)


class VAEOutput(NamedTuple):
    """image (B, 3, H, W) in [0, 1]; latent mean and log-variance (B, C, H/4, W/4)."""

    image: Tensor
    mean: Tensor
    log_variance: Tensor


def _conv_act(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2))


class AttentionMultiScale(nn.Module):
    """AMSM: dilated 3x3 branches (1, 2, 4), fused by softmax-over-branches channel attention; residual."""

    def __init__(self, channels: int, dilations: tuple[int, ...] = (1, 2, 4), reduction: int = 4):
        super().__init__()
        self.branches = nn.ModuleList([nn.Conv2d(channels, channels, 3, padding=d, dilation=d) for d in dilations])
        self.attention = nn.Sequential(
            nn.Linear(channels, channels // reduction),
            nn.ReLU(),
            nn.Linear(channels // reduction, channels * len(dilations)),
        )

    def forward(self, x: Tensor) -> Tensor:
        branches = torch.stack([F.leaky_relu(b(x), 0.2) for b in self.branches], 1)  # (B, K, C, H, W)
        summary = branches.sum(1).mean((2, 3))  # (B, C)
        weights = self.attention(summary).view(x.shape[0], len(self.branches), -1).softmax(1)
        return x + (branches * weights[..., None, None]).sum(1)


class RegionCalibration(nn.Module):
    """RCAM: 4x4 region tokens + a global token, multi-head self-attention among them, upsampled into a
    sigmoid gate on the features; residual."""

    def __init__(self, channels: int, grid: int = 4, heads: int = 4):
        super().__init__()
        self.grid = grid
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.gate = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        batch, channels = x.shape[:2]
        regions = F.adaptive_avg_pool2d(x, self.grid).flatten(2).transpose(1, 2)  # (B, G*G, C)
        tokens = torch.cat([regions, regions.mean(1, keepdim=True)], 1)  # + the global token
        related, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        region_map = related[:, :-1].transpose(1, 2).reshape(batch, channels, self.grid, self.grid)
        region_map = region_map + related[:, -1][..., None, None]
        region_map = F.interpolate(region_map, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x + x * torch.sigmoid(self.gate(torch.cat([x, region_map], 1)))


@MODELS.register("lacr_vae")
class LACRVAE(EnhancementModel):
    """Encoder (stride 4, AMSM at each scale, RCAM on the latent) -> Gaussian latent -> decoder with skips.

    Sees the whole image (RCAM's region grid and global token), so it is not tiled: ``receptive_radius`` None.

    Example:
        >>> LACRVAE(width=8, latent=8)(torch.rand(1, 3, 30, 34)).image.shape
        torch.Size([1, 3, 30, 34])
    """

    size_multiple = 1
    receptive_radius = None

    def __init__(self, width: int = 32, latent: int = 64):
        super().__init__()
        self.stem = nn.Sequential(_conv_act(3, width), AttentionMultiScale(width))
        self.down1 = nn.Sequential(_conv_act(width, 2 * width, 2), AttentionMultiScale(2 * width))
        self.down2 = nn.Sequential(_conv_act(2 * width, 2 * width, 2), AttentionMultiScale(2 * width))
        self.calibrate = RegionCalibration(2 * width)
        self.to_latent = nn.Conv2d(2 * width, 2 * latent, 1)
        self.from_latent = _conv_act(latent, 2 * width)
        self.up2 = nn.Sequential(_conv_act(4 * width, 2 * width), AttentionMultiScale(2 * width))
        self.up1 = nn.Sequential(_conv_act(3 * width, width), AttentionMultiScale(width))
        self.head = nn.Conv2d(width, 6, 3, padding=1)  # 3 log-gains + 3 residuals
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
        """(B, 3, H, W) -> latent mean, log-variance (B, latent, ~H/4, ~W/4) and the skip features."""
        s1 = self.stem(x)
        s2 = self.down1(s1)
        s3 = self.calibrate(self.down2(s2))
        mean, log_variance = self.to_latent(s3).chunk(2, 1)
        return mean, log_variance.clamp(-10, 10), [s1, s2]

    def forward(self, x: Tensor) -> VAEOutput:
        """x: (B, 3, H, W) in [0, 1], any size -> VAEOutput; samples the latent in training mode only."""
        mean, log_variance, (s1, s2) = self.encode(x)
        z = mean + torch.randn_like(mean) * (0.5 * log_variance).exp() if self.training else mean
        y = self.from_latent(z)
        y = self.up2(torch.cat([F.interpolate(y, size=s2.shape[-2:], mode="bilinear", align_corners=False), s2], 1))
        y = self.up1(torch.cat([F.interpolate(y, size=s1.shape[-2:], mode="bilinear", align_corners=False), s1], 1))
        log_gain, residual = self.head(y).chunk(2, 1)
        # starts as a x4 brightening so training begins from a sensible enhancement
        image = clamp_passing_gradient(x * (log_gain + INITIAL_LOG_GAIN).exp() + residual, 0.0, 1.0)
        return VAEOutput(image, mean, log_variance)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Parameters the latent depends on (stem, down-sampling, RCAM, latent projection)."""
        parts = (self.stem, self.down1, self.down2, self.calibrate, self.to_latent)
        return [p for part in parts for p in part.parameters()]

    def latent(self, x: Tensor) -> Tensor:
        """The latent mean (B, latent, ~H/4, ~W/4): the space where LACR compares images."""
        return self.encode(x)[0]
