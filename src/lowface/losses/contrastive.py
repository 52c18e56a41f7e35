"""Contrastive module (paper III-B, Eq. 2-4): pull the enhanced image toward normal-light positives and push
it away from low-light negatives, in a frozen CNN's feature space and in brightness.

The positives and negatives are unrelated scenes. The official code compares their feature maps pixel by
pixel; ``distance="statistics"`` (our default, the paper's intent of "mutual properties") compares
location-free summaries instead: per-channel mean and standard deviation of each feature map, and 16
quantiles of the brightness map. ``distance="aligned"`` reproduces the pixel-aligned L1 of the official code.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from lowface.backbones.base import FeatureExtractor

Distance = Literal["statistics", "aligned"]
RATIO_EPS = 1e-7


def feature_summary(f: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, 2C): per-channel spatial mean and standard deviation."""
    return torch.cat([f.mean((2, 3)), f.flatten(2).std(2)], 1)


def channel_quantiles(x: Tensor, levels: int = 16) -> Tensor:
    """(B, C, H, W) -> (B, C, levels): evenly spaced quantiles of each channel's values (its distribution)."""
    q = torch.linspace(0.0, 1.0, levels, device=x.device, dtype=x.dtype)
    return torch.quantile(x.flatten(2), q, dim=2).permute(1, 2, 0)


def per_image_l1(a: Tensor, b: Tensor) -> Tensor:
    """(B, ...) x (B, ...) -> (B,) mean absolute difference per image."""
    return (a - b).abs().flatten(1).mean(1)


def contrast_ratio(anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
    """L1(anchor, positive) / (L1(anchor, negative) + 1e-7) per image (Eq. 2's ratio), averaged over the
    batch: a per-image mean, so the loss of a batch split across processes averages to the whole batch's."""
    return (per_image_l1(anchor, positive) / (per_image_l1(anchor, negative) + RATIO_EPS)).mean()


class FeatureContrastLoss(nn.Module):
    """Feature CR (Eq. 2): sum_i w_i * d(F_i(e), F_i(p)) / (d(F_i(e), F_i(n)) + 1e-7).

    ``taps`` and ``weights`` default to three shallow feature levels with the code's 1/32, 1/16, 1/8.
    With ``use_negatives=False`` (Table IV "w/o S_neg") the denominator is dropped.
    """

    def __init__(
        self,
        features: FeatureExtractor,
        taps: tuple[str, ...] = ("s2", "s4", "s8"),
        weights: tuple[float, ...] = (1 / 32, 1 / 16, 1 / 8),
        distance: Distance = "statistics",
        use_negatives: bool = True,
    ):
        super().__init__()
        if len(taps) != len(weights):
            raise ValueError("taps and weights must have the same length")
        self.features, self.taps, self.weights = features, tuple(taps), tuple(weights)
        self.distance, self.use_negatives = distance, use_negatives

    def forward(self, enhanced: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        """All (B, 3, H, W) in [0, 1] (positive/negative may have other H, W with distance='statistics')."""
        fe = self.features(enhanced, self.taps)
        with torch.no_grad():
            fp = self.features(positive, self.taps)
            fn = self.features(negative, self.taps) if self.use_negatives else None
        total = enhanced.new_zeros(())
        for tap, weight in zip(self.taps, self.weights, strict=True):
            e, p = fe[tap], fp[tap]
            n = fn[tap] if fn is not None else None
            if self.distance == "statistics":
                e, p = feature_summary(e), feature_summary(p)
                n = feature_summary(n) if n is not None else None
            ratio = contrast_ratio(e, p, n) if n is not None else (e - p).abs().mean()
            total = total + weight * ratio
        return total


class BrightnessContrastLoss(nn.Module):
    """Brightness CR (Eq. 3): the same ratio on brightness.

    ``distance="aligned"``: L1 between channel-mean brightness maps (B, 1, H, W), as the official code.
    ``distance="statistics"``: L1 between 16 quantiles of each colour channel's brightness, so that the
    distribution of brightness, and its balance between R, G and B, is pulled toward the positives (a
    channel-mean alone lets one channel drift and tint the output).
    """

    def __init__(self, distance: Distance = "statistics", use_negatives: bool = True):
        super().__init__()
        self.distance, self.use_negatives = distance, use_negatives

    def _describe(self, x: Tensor) -> Tensor:
        return channel_quantiles(x) if self.distance == "statistics" else x.mean(1, keepdim=True)

    def forward(self, enhanced: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        e, p = self._describe(enhanced), self._describe(positive)
        if not self.use_negatives:
            return (e - p).abs().mean()
        return contrast_ratio(e, p, self._describe(negative))
