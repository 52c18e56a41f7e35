"""Do-no-harm exposure gate: well-exposed images come back unchanged, dark ones fully enhanced.

A logistic model on the whole image's 13 brightness statistics (:data:`lowface.inference.statistics.
BRIGHTNESS_STATISTICS`: log mean and quantiles of luma, share below 0.1, highlight, saturation, spread) gives w in
[0, 1]; the output is x + w (enhanced - x). It is fitted by ``tools/fit_exposure_gate.py`` - clean photos (LFW's
training list, CelebA's train people) and SICE's well- and over-exposed real captures (w -> 0) against the LFW images
darkened by the synthesis presets and SICE's under-exposed captures (w -> 1) - and shipped as
``lowface/weights/exposure_gate.json`` with the command that made it. The gate sees the whole image, so it is computed
once before tiling; for video the weight is smoothed over frames (:class:`GateSmoother`) so that it never flickers."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from torch import Tensor

from lowface.assets import WEIGHTS, package_file, sha256_file
from lowface.inference.logistic import LogisticModel
from lowface.inference.statistics import BRIGHTNESS_STATISTICS, FrameSmoother, exposure_features, select_statistics

GATE_FILE = "exposure_gate.json"
FEATURES = BRIGHTNESS_STATISTICS
# Probability -> weight: 0 up to the classifier's decision boundary (an image it calls well exposed is returned
# bit for bit), 1 from 0.8 on (a clearly dark image gets the full model), linear in between.
DEAD_ZONE = (0.5, 0.8)


class ExposureGate(LogisticModel):
    """The logistic probability that an image is dark (on :func:`exposure_features`), mapped to a weight w through
    ``DEAD_ZONE``; 1 means "enhance fully"."""

    FEATURES = FEATURES

    def weight(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) enhancement weights in [0, 1]."""
        return self.weight_from_features(exposure_features(x))

    def weight_from_features(self, features: Tensor) -> Tensor:
        """(B, 13) :func:`exposure_features` -> (B,) weights: the logistic probability mapped through ``DEAD_ZONE``."""
        low, high = DEAD_ZONE
        probability = self.probability_from_features(select_statistics(features, self.FEATURES))
        return ((probability - low) / (high - low)).clamp(0.0, 1.0)

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
    return sha256_file(package_file(WEIGHTS, GATE_FILE))


class GateSmoother(FrameSmoother):
    """The gate weight smoothed over video frames: w_t = a w_(t-1) + (1 - a) gate(frame_t)."""

    def __init__(self, gate: ExposureGate, momentum: float = 0.9, every: int = 1,
                 statistics: Callable[[Tensor], Tensor] = exposure_features):  # fmt: skip
        """``statistics``: how a frame's :func:`exposure_features` are had (shared with other smoothers in a video)."""
        super().__init__(lambda frame: gate.weight_from_features(statistics(frame)), momentum, every)
        self.gate = gate
