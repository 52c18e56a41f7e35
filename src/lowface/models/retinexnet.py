"""Deep RetinexNet (Wei et al., BMVC 2018), the network of seed 003's face-detection study.

Decom-Net splits an image S into a reflectance R (3 channels) and an illumination I (1 channel) with
S = R * I; trained on low / normal pairs of the same scene that must share R. Enhance-Net (here
``RelightNet``) takes (R_low, I_low) and predicts a brighter illumination I' through an encoder-decoder with
multi-scale fusion; the output is R_low * I'. Training is two-phase (``objective: retinexnet_decom``, then
``retinexnet_relight`` with ``train_only: [relight]``), see :mod:`lowface.losses.retinexnet`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.models.base import EnhancementModel
from lowface.registry import MODELS


class RetinexNetOutput(NamedTuple):
    """image = reflectance * relit, (B, 3, H, W); reflectance (B, 3, H, W); illumination, relit (B, 1, H, W)."""

    image: Tensor
    reflectance: Tensor
    illumination: Tensor
    relit: Tensor


class DecomNet(nn.Module):
    """(B, 3, H, W) -> R (B, 3, H, W), I (B, 1, H, W), both sigmoid. Input: the image and its channel max;
    a 9x9 shallow layer, ``layers`` 3x3 ReLU layers of ``width`` channels, a 3x3 projection to 4 channels."""

    def __init__(self, width: int = 64, layers: int = 5):
        super().__init__()
        body = [nn.Conv2d(4, width, 9, padding=4)]
        for _ in range(layers):
            body += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        self.body = nn.Sequential(*body, nn.Conv2d(width, 4, 3, padding=1))
        self.receptive_radius = 4 + layers + 1

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = torch.sigmoid(self.body(torch.cat([x.amax(1, keepdim=True), x], 1)))
        return out[:, :3], out[:, 3:]


class RelightNet(nn.Module):
    """(R, I) -> I' (B, 1, H, W), unbounded as in the original: three stride-2 3x3 encoders, three
    nearest-upsampling decoders with skip additions, then the decoder outputs resized to full resolution,
    concatenated, fused by 1x1 and 3x3 convs."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.stem = nn.Conv2d(4, width, 3, padding=1)
        self.down = nn.ModuleList([nn.Conv2d(width, width, 3, stride=2, padding=1) for _ in range(3)])
        self.up = nn.ModuleList([nn.Conv2d(width, width, 3, padding=1) for _ in range(3)])
        self.fuse = nn.Conv2d(3 * width, width, 1)
        self.out = nn.Conv2d(width, 1, 3, padding=1)

    def forward(self, reflectance: Tensor, illumination: Tensor) -> Tensor:
        x0 = self.stem(torch.cat([reflectance, illumination], 1))
        skips, x = [x0], x0
        for conv in self.down:
            x = F.relu(conv(x))
            skips.append(x)
        decoded = []
        for conv, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.relu(conv(F.interpolate(x, size=skip.shape[-2:], mode="nearest"))) + skip
            decoded.append(x)
        size = x0.shape[-2:]
        fused = torch.cat([F.interpolate(d, size=size, mode="nearest") for d in decoded], 1)
        return self.out(self.fuse(fused))


@MODELS.register("retinexnet")
class RetinexNet(EnhancementModel):
    """Decom-Net + Enhance-Net; output R_low * I' clamped to [0, 1] (444,613 parameters with width 64).

    The encoder-decoder sees the whole image (stride 8), so large images are not tiled exactly; inference
    memory grows with the image (``default_tile`` = None: whole images).

    Example:
        >>> RetinexNet(width=8)(torch.rand(1, 3, 20, 20)).image.shape
        torch.Size([1, 3, 20, 20])
    """

    size_multiple = 1
    receptive_radius = None  # not exactly tileable (global encoder-decoder)

    def __init__(self, width: int = 64, layers: int = 5, denoise_sigma: float = 0.0):
        """``denoise_sigma`` > 0: BM3D on the reflectance at inference (seed 003 and the RetinexNet paper), see
        :func:`bm3d_reflectance`; needs the ``bm3d`` package (free for non-commercial use only)."""
        super().__init__()
        self.decom = DecomNet(width, layers)
        self.relight = RelightNet(width)
        self.denoise_sigma = denoise_sigma

    def forward(self, x: Tensor) -> RetinexNetOutput:
        """x: (B, 3, H, W) in [0, 1] -> RetinexNetOutput."""
        reflectance, illumination = self.decom(x)
        relit = self.relight(reflectance, illumination)
        if self.denoise_sigma > 0 and not self.training:
            reflectance = bm3d_reflectance(reflectance, illumination, self.denoise_sigma)
        return RetinexNetOutput((reflectance * relit).clamp(0, 1), reflectance, illumination, relit)


def bm3d_reflectance(reflectance: Tensor, illumination: Tensor, sigma: float) -> Tensor:
    """Illumination-aware BM3D of the reflectance: R' = I R + (1 - I) BM3D(R, sigma). Dark regions, where the
    division amplified the noise most, take the denoised reflectance; bright ones keep their detail. The blend
    is this project's reading of the paper's "illumination-related" denoising. (B, 3, H, W), (B, 1, H, W)."""
    try:
        import bm3d
    except ImportError:
        raise ImportError("RetinexNet's BM3D option needs the bm3d package: pip install bm3d==4.0.3") from None
    denoised = []
    for image in reflectance.detach().cpu().permute(0, 2, 3, 1).numpy():
        denoised.append(torch.from_numpy(bm3d.bm3d_rgb(image, sigma).astype("float32")).permute(2, 0, 1))
    clean = torch.stack(denoised).to(reflectance).clamp(0, 1)
    return illumination * reflectance + (1 - illumination) * clean
