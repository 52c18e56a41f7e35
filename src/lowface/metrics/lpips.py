"""LPIPS v0.1 (Zhang et al. 2018) with the VGG-16 backbone - only with VGG-16 ImageNet weights you supply.

No registry ships VGG-16's ImageNet weights, so this metric exists only when the user passes a torchvision-layout
VGG-16 state dict (``vgg16-397923af.pth`` or a safetensors copy). The learned linear heads (five 1x1
non-negative weightings of the channel differences) are read from the PyPI package ``lpips`` 0.1.4 (BSD-2-Clause;
``weights/v0.1/vgg.pth``, loaded with ``weights_only=True``; its code is never imported).

As the reference: inputs in [0, 1] mapped to [-1, 1], then (x - shift) / scale with the reference's constants;
taps relu1_2 ... relu5_3 unit-normalised over channels (eps 1e-10); squared difference weighted by the linear
head, averaged over positions, summed over taps. 0 for identical images; lower is better.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from lowface.assets import Asset, AssetMissing
from lowface.backbones.vgg import VGG16Features
from lowface.metrics.catalogue import reported

HEADS_PACKAGE = "lpips==0.1.4"
TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
CHANNELS = (64, 128, 256, 512, 512)
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


LPIPSWeightsMissing = AssetMissing  # the name earlier versions raised
HEADS = Asset(
    "lpips_vgg_heads",
    "lpips",
    "weights/v0.1/vgg.pth",
    "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
    f"{HEADS_PACKAGE} (pip install --no-deps; `make install` does)",
    "BSD-2-Clause",
    "LPIPS's linear heads",
)


def heads_path() -> Path:
    return HEADS.locate()


reported("lpips_vgg", "LPIPS-VGG", higher_is_better=False, fmt="{:.3f}")  # an LPIPS instance computes it


class LPIPS(nn.Module):
    """(B, 3, H, W) pair in [0, 1] -> (B,) LPIPS-VGG v0.1 distances."""

    def __init__(self, vgg_weights: str | Path, heads: str | Path | None = None):
        super().__init__()
        if not Path(vgg_weights).is_file():
            raise LPIPSWeightsMissing(f"{vgg_weights}: no such VGG-16 weights file (LPIPS needs VGG-16's)")
        self.vgg = VGG16Features(vgg_weights)
        state = torch.load(heads or heads_path(), map_location="cpu", weights_only=True)
        weights = [state[f"lin{i}.model.1.weight"] for i in range(len(TAPS))]
        if [w.shape[1] for w in weights] != list(CHANNELS):
            raise ValueError(f"{heads}: not LPIPS-VGG linear heads ({[tuple(w.shape) for w in weights]})")
        self.heads = nn.ParameterList(nn.Parameter(w, requires_grad=False) for w in weights)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    def features(self, x: Tensor) -> dict[str, Tensor]:
        return self.vgg.extract(((2 * x - 1) - self.shift) / self.scale, TAPS)  # the reference's own scaling

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        fx, fy = self.features(x), self.features(y)
        total = torch.zeros(x.shape[0], device=x.device)
        for tap, head in zip(TAPS, self.heads, strict=True):
            a = fx[tap] / (fx[tap].pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = fy[tap] / (fy[tap].pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + ((a - b).pow(2) * head).sum(1).mean((1, 2))
        return total
