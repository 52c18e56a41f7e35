"""Full-reference fidelity: PSNR and SSIM on float RGB in [0, 1] (data range 1).

Convention: both computed on RGB. PSNR over all pixels and channels; SSIM with an 11x11 Gaussian window
(sigma 1.5), K1 = 0.01, K2 = 0.03, valid region only, averaged over channels (as Wang et al. 2004 and
scikit-image with ``gaussian_weights=True``, ``use_sample_covariance=False``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lowface.filters import gaussian_kernel1d
from lowface.metrics.catalogue import register_metric


@register_metric("psnr", "PSNR dB", higher_is_better=True)
def psnr(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """(B, C, H, W) pair -> (B,) PSNR in dB (inf for identical images)."""
    mse = (x - y).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


@register_metric("ssim", "SSIM", higher_is_better=True, fmt="{:.3f}")
def ssim(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """(B, C, H, W) pair -> (B,) mean SSIM."""
    kernel = gaussian_kernel1d(1.5, 5).to(x)
    channels = x.shape[1]
    kh = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    kv = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)

    def blur(z: Tensor) -> Tensor:  # channels-last: PyTorch's depthwise CPU convolution is ~4x faster so
        z = z.contiguous(memory_format=torch.channels_last)
        return F.conv2d(F.conv2d(z, kh, groups=channels), kv, groups=channels)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)
