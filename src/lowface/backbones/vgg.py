"""VGG-16 features from a user-supplied weights file (the paper's choice; no registry ships VGG-16 weights).

Accepts a torchvision-layout state dict (``features.N.weight``/``bias``; classifier keys are ignored) as
safetensors or a ``.pth`` read with ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from lowface.backbones.base import FeatureExtractor
from lowface.backbones.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD

# VGG-16 "D" configuration up to relu5_3: channel counts, "M" = 2x2 max-pool.
VGG16_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]


def _vgg16_layers() -> nn.Sequential:
    layers: list[nn.Module] = []
    cin = 3
    for item in VGG16_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(item), 3, padding=1), nn.ReLU()]
            cin = int(item)
    return nn.Sequential(*layers)


def load_vgg16_state(path: str | Path) -> dict[str, Tensor]:
    path = Path(path)
    if path.suffix == ".safetensors":
        import safetensors.torch

        state = safetensors.torch.load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    return {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}


class VGG16Features(FeatureExtractor):
    """Frozen VGG-16 taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 for (B, 3, H, W) RGB in [0, 1]."""

    TAPS: ClassVar[dict[str, int]] = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29}

    def __init__(self, weights: str | Path):
        super().__init__(IMAGENET_MEAN, IMAGENET_STD)
        self.layers = _vgg16_layers()
        state = load_vgg16_state(weights)
        expected = {k: tuple(v.shape) for k, v in self.layers.state_dict().items()}
        found = {k: tuple(state[k].shape) for k in expected if k in state}
        if found != expected:
            wrong = sorted(k for k in expected if found.get(k) != expected[k])
            raise ValueError(f"{weights}: not a VGG-16 state dict (missing or mis-shaped: {wrong[:4]})")
        self.layers.load_state_dict({k: state[k] for k in expected})
        self.freeze()

    def extract(self, x: Tensor, taps: tuple[str, ...]) -> dict[str, Tensor]:
        wanted = {self.TAPS[t]: t for t in taps}
        out, h = {}, x
        for index, layer in enumerate(self.layers):
            h = layer(h)
            if index in wanted:
                out[wanted[index]] = h
            if index == max(wanted):
                break
        return out
