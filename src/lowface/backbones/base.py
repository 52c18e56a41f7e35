"""Common base for frozen feature extractors used by the losses and distance metrics."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from lowface.assets import AssetMissing

FrozenBackboneMissing = AssetMissing  # the name earlier versions raised


class FeatureExtractor(nn.Module):
    """A frozen CNN that returns named feature maps for (B, 3, H, W) RGB input in [0, 1].

    Subclasses list their tap names in ``TAPS`` and implement ``extract(normalised_x, taps)``.
    """

    TAPS: ClassVar[dict[str, int]] = {}

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def freeze(self) -> None:
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)  # always eval: batch-norm statistics stay frozen

    def extract(self, x: Tensor, taps: tuple[str, ...]) -> dict[str, Tensor]:
        raise NotImplementedError

    def forward(self, x: Tensor, taps: tuple[str, ...]) -> dict[str, Tensor]:
        unknown = set(taps) - set(self.TAPS)
        if unknown:
            raise KeyError(f"unknown feature taps {sorted(unknown)}; {type(self).__name__} has {list(self.TAPS)}")
        return self.extract((x - self.mean) / self.std, taps)
