"""Do-no-harm exposure gate: well-exposed images come back unchanged, dark ones fully enhanced.

A logistic model on four brightness statistics of the whole image (luma mean, median, 95th percentile, share
of pixels below 0.1; log scale) gives w in [0, 1]; the output is x + w (enhanced - x). It is fitted by
``tools/fit_exposure_gate.py`` on LFW's training list, clean images (w -> 0) against the same images
darkened by the synthesis presets (w -> 1), and shipped as ``lowface/weights/exposure_gate.json`` with the
command that made it. The gate sees the whole image, so it is computed once before tiling; for video the
weight is smoothed over frames (:class:`GateSmoother`) so that it never flickers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from lowface.logistic import LogisticModel

GATE_FILE = "exposure_gate.json"
STATISTICS_SIDE = 256  # statistics are taken on the image area-downsampled to at most this side
FEATURES = ("log_mean", "log_median", "log_p95", "dark_share")
LUMA = (0.299, 0.587, 0.114)
# Probability -> weight: 0 up to the classifier's decision boundary (an image it calls well exposed is returned
# bit for bit), 1 from 0.8 on (a clearly dark image gets the full model), linear in between.
DEAD_ZONE = (0.5, 0.8)


def exposure_features(x: Tensor) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 4): log mean, log median, log 95th percentile of luma, share below 0.1."""
    scale = max(1, -(-max(x.shape[-2:]) // STATISTICS_SIDE))
    small = F.avg_pool2d(x.float(), scale, ceil_mode=True) if scale > 1 else x.float()
    luma = (small * small.new_tensor(LUMA).view(1, 3, 1, 1)).sum(1).flatten(1)
    quantiles = torch.quantile(luma, luma.new_tensor([0.5, 0.95]), dim=1).T
    eps = 1e-3
    return torch.stack(
        [(luma.mean(1) + eps).log(), (quantiles[:, 0] + eps).log(), (quantiles[:, 1] + eps).log(),
         (luma < 0.1).float().mean(1)], 1,
    )  # fmt: skip


class ExposureGate(LogisticModel):
    """The logistic probability that an image is dark (on :func:`exposure_features`), mapped to a weight w through
    ``DEAD_ZONE``; 1 means "enhance fully"."""

    FEATURES = FEATURES

    def weight(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) enhancement weights in [0, 1]."""
        return self.weight_from_features(exposure_features(x))

    def weight_from_features(self, features: Tensor) -> Tensor:
        """(B, 4) features -> (B,) weights: the logistic probability mapped through ``DEAD_ZONE``."""
        low, high = DEAD_ZONE
        return ((self.probability_from_features(features) - low) / (high - low)).clamp(0.0, 1.0)

    @staticmethod
    def blend(x: Tensor, enhanced: Tensor, weight: Tensor) -> Tensor:
        """x + w (enhanced - x) per image; x, enhanced (B, 3, H, W), weight (B,)."""
        return x + weight.view(-1, 1, 1, 1).to(x) * (enhanced - x)


@lru_cache(maxsize=1)
def shipped_gate() -> ExposureGate:
    """The gate fitted by tools/fit_exposure_gate.py and shipped in lowface/weights/."""
    return ExposureGate.load_shipped(GATE_FILE)


@lru_cache(maxsize=1)
def gate_fingerprint() -> str:
    """sha256 of the shipped gate file (recorded with outputs: a refitted gate means other outputs)."""
    from importlib import resources

    from lowface.pretrained import WEIGHTS_PACKAGE

    return hashlib.sha256(resources.files(WEIGHTS_PACKAGE).joinpath(GATE_FILE).read_bytes()).hexdigest()


class FrameSmoother:
    """Exponential smoothing of a per-frame measurement over video frames: v_t = a v_(t-1) + (1 - a) m(frame_t),
    v_0 = m(frame_0)."""

    def __init__(self, measure: Callable[[Tensor], Tensor], momentum: float = 0.9):
        self.measure, self.momentum = measure, momentum
        self.value: Tensor | None = None

    def __call__(self, frame: Tensor) -> Tensor:
        """frame (1, 3, H, W) -> smoothed measurement."""
        current = self.measure(frame)
        self.value = current if self.value is None else self.momentum * self.value + (1 - self.momentum) * current
        return self.value


class GateSmoother(FrameSmoother):
    """The gate weight smoothed over video frames: w_t = a w_(t-1) + (1 - a) gate(frame_t)."""

    def __init__(self, gate: ExposureGate, momentum: float = 0.9):
        super().__init__(gate.weight, momentum)
        self.gate = gate
