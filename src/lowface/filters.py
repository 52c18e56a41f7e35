"""Image filters and constants shared by the models, the losses, the metrics and inference. Tensors are
(B, C, H, W)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights of R, G, B


def gaussian_kernel1d(sigma: float, radius: int | None = None) -> Tensor:
    """Normalised 1-D Gaussian, radius 3*sigma by default."""
    radius = radius if radius is not None else math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return (kernel / kernel.sum()).float()


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Per-channel (depthwise) separable Gaussian blur with reflect padding. (B, C, H, W) -> same."""
    kernel = gaussian_kernel1d(sigma).to(x)
    channels, radius = x.shape[1], kernel.numel() // 2
    pad_mode = "reflect" if min(x.shape[-2:]) > radius else "replicate"
    x = F.pad(x, (radius, radius, radius, radius), mode=pad_mode)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)
