"""Distances in the feature space of the ImageNet backbone available offline (EfficientNet-Lite0).

These are NOT LPIPS or FID/KID-Inception and are named for what they are:
- ``feature_distance``: LPIPS-style but unlearned - per tap (strides 2, 4, 8, 16), channel vectors are unit
  normalised, squared differences averaged over channels and positions (uniform weights, no learned linear
  layer), summed over taps. 0 for identical images; lower is better.
- ``kid``: kernel inception distance computed on EfficientNet-Lite0's pooled 1280-d penultimate features instead
  of Inception's: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over
  random subsets. ~0 for sets from one distribution; lower is better. Reported x 1000 by the benchmark.
- ``frechet_distance``: the Frechet distance between Gaussians fitted to two feature sets (needs many more
  samples than the 1280 feature dimensions to be meaningful, which is why the benchmark reports KID).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from torch import Tensor

from lowface.backbones.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD, EfficientNetLiteFeatures, load_lite0
from lowface.metrics.catalogue import register_metric

TAPS = ("s2", "s4", "s8", "s16")


@register_metric("feature_distance", "EffNet dist", higher_is_better=False, fmt="{:.3f}")
def feature_distance(x: Tensor, y: Tensor, extractor: EfficientNetLiteFeatures) -> Tensor:
    """(B, 3, H, W) pair in [0, 1] -> (B,) unlearned LPIPS-style distance on EfficientNet-Lite0 taps."""
    fx, fy = extractor(x, TAPS), extractor(y, TAPS)
    total = torch.zeros(x.shape[0], device=x.device)
    for tap in TAPS:
        a = fx[tap] / (fx[tap].norm(dim=1, keepdim=True) + 1e-10)
        b = fy[tap] / (fy[tap].norm(dim=1, keepdim=True) + 1e-10)
        total = total + (a - b).pow(2).sum(1).mean((1, 2))
    return total


class PooledFeatures:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 1280) EfficientNet-Lite0 penultimate features (frozen, ImageNet)."""

    def __init__(self) -> None:
        self.network = load_lite0().requires_grad_(False)
        self.mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    @torch.inference_mode()
    def __call__(self, x: Tensor) -> np.ndarray:
        return self.network.pooled_features((x - self.mean) / self.std).numpy().astype(np.float64)


def _mmd2_unbiased(a: np.ndarray, b: np.ndarray) -> float:
    d = a.shape[1]
    kaa, kbb, kab = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
    m, n = len(a), len(b)
    within_a = (kaa.sum() - np.trace(kaa)) / (m * (m - 1))
    within_b = (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
    return float(within_a + within_b - 2 * kab.mean())


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 50, subset_size: int = 100, seed: int = 0) -> float:
    """(M, D) and (N, D) features -> mean unbiased MMD^2 over random subsets (all samples when fewer)."""
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    values = [
        _mmd2_unbiased(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)) between two Gaussians."""
    root = np.real(linalg.sqrtm(cov1 @ cov2))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2 * root))


def create_extractor() -> EfficientNetLiteFeatures:
    return EfficientNetLiteFeatures()
