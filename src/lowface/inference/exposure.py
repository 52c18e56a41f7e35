"""Exposure control for the default: how bright its output should be, and a tone curve that takes it there.

The networks brighten by how dark their input is, not by how bright the scene should look. On SICE's validation
scenes ``lowface-auto`` took frames of mean luma 0.3 to 0.63-0.68 where the scene's reference is 0.45-0.5 (washed
out), and left the darkest at 0.15 where it is 0.38. :class:`ExposureTarget`, a linear model on the input's brightness
statistics (:func:`lowface.inference.statistics.exposure_features`), predicts the log mean luma of a well-exposed
version of the image; it is fitted by ``tools/fit_exposure_target.py`` on SICE's training scenes (each under-exposed
frame -> its scene's reference) and LFW's training list under the training presets (darkened -> clean), and shipped
as ``lowface/weights/exposure_target.json`` with the part of the way (in log mean luma) from the output's own
brightness to the prediction that the output is moved - ``share`` down, ``brighten_share`` up, and up by at most
``max_lift`` - chosen on SICE's validation scenes, CelebA's validation people and LFW's training list. The default only
darkens: brightening, even bounded, raised every SICE validation figure but cost noise-free and noisy LFW faces
(``benchmarks/results/exposure_lift/README.md``).

The move is one global curve per image, y = x / (c + (1 - c) x): monotone, 0 and 1 fixed, c < 1 brightens and c > 1
darkens, with a bounded slope at black (1 / c; a gamma curve's is unbounded, and lifted the shadows' noise: SICE val
brightness-matched SSIM 0.805 -> 0.799 where this curve keeps 0.805). c is found by bisection on a strided sample of
the output; the curve itself is two in-place passes (about 5 ms at 1080p on one thread).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import torch
from torch import Tensor

from lowface.assets import WEIGHTS, package_file
from lowface.filters import luma
from lowface.inference.logistic import LinearModel
from lowface.inference.statistics import FrameSmoother, exposure_features, select_statistics

EXPOSURE_FILE = "exposure_target.json"
FEATURES = ("log_mean", "log_median", "log_p95", "dark_share")
LOG_C_RANGE = 2.0  # |log c| at most this: the slope at black between 1 / 7.4 and 7.4
SAMPLE_STEP = 8  # c is solved on every 8th pixel of every 8th row (32,000 pixels of a 1080p frame)
ROWS_PER_CHUNK = 256  # the curve is applied this many rows at a time (a buffer of that size, not of the image)


@dataclass(frozen=True)
class ExposureTarget(LinearModel):
    """log mean luma of a well-exposed version = linear model on :func:`exposure_features`; ``share`` of the way
    there is what :meth:`settle` moves an output."""

    share: float = 1.0  # the part of the way an output brighter than the prediction is moved down
    brighten_share: float = 1.0  # ... and an output darker than it up (0: only darken)
    max_lift: float = math.inf  # brightening by at most this in log mean luma (a night scene stays a night scene)

    FEATURES = FEATURES

    def predicted(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) input in [0, 1] -> (B,) predicted log mean luma of it well exposed."""
        return self.predicted_from_features(exposure_features(x))

    def predicted_from_features(self, features: Tensor) -> Tensor:
        """(B, 13) :func:`exposure_features` of the inputs -> (B,) predicted log mean luma of them well exposed."""
        return self.linear_from_features(select_statistics(features, self.FEATURES))

    def settle(self, out: Tensor, features: Tensor | None = None, predicted: Tensor | None = None) -> Tensor:
        """out (B, 3, H, W) in [0, 1], the enhanced images, moved in place towards the predicted brightness of their
        inputs, given by the inputs' :func:`exposure_features` (B, 13) or as ``predicted`` (B,) log mean luma."""
        sample = out[..., ::SAMPLE_STEP, ::SAMPLE_STEP].float().contiguous()  # (the solver's 20 passes: 4 -> 2 ms)
        log_mean = mean_luma(sample).clamp_min(1e-3).log()
        predicted = self.predicted_from_features(features) if predicted is None else predicted
        aim = log_mean + self.move(predicted.to(log_mean) - log_mean)
        moves = (aim - log_mean).abs() > 1e-4  # (an output already at its aim is left exactly as it is)
        if not bool(moves.any()):
            return out
        return apply_curve_(out, torch.where(moves, solve_curve(sample, aim), 0.0))

    def move(self, gap: Tensor) -> Tensor:
        """(B,) predicted minus the output's log mean luma -> (B,) the change of log mean luma to make: ``share`` of a
        gap below zero, ``brighten_share`` of one above it, at most ``max_lift``."""
        return torch.where(gap < 0, self.share * gap, (self.brighten_share * gap).clamp_max(self.max_lift))

    def to_dict(self) -> dict:
        lift = None if math.isinf(self.max_lift) else self.max_lift  # (JSON has no infinity)
        return {**super().to_dict(), "share": self.share, "brighten_share": self.brighten_share, "max_lift": lift}

    @classmethod
    def load_shipped(cls, file: str = EXPOSURE_FILE) -> ExposureTarget:
        target = super().load_shipped(file)
        data = json.loads(package_file(WEIGHTS, file).read_text())
        lift = math.inf if data["max_lift"] is None else float(data["max_lift"])
        return replace(target, share=float(data["share"]), brighten_share=float(data["brighten_share"]), max_lift=lift)


@lru_cache(maxsize=2)
def shipped_exposure(file: str = EXPOSURE_FILE) -> ExposureTarget:
    """The exposure target fitted by tools/fit_exposure_target.py and shipped as lowface/weights/<file>."""
    return ExposureTarget.load_shipped(file)


def mean_luma(x: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B,) mean BT.601 luma."""
    return luma(x).flatten(1).mean(1)


def curve(x: Tensor, log_c: Tensor) -> Tensor:
    """x (B, 3, H, W) in [0, 1], log_c (B,) -> x / (c + (1 - c) x), c = exp(log_c) per image."""
    c = log_c.exp().view(-1, 1, 1, 1).to(x)
    return x / (c + (1 - c) * x)


def solve_curve(sample: Tensor, aim: Tensor, steps: int = 20) -> Tensor:
    """sample (B, 3, h, w) in [0, 1], aim (B,) log mean luma -> (B,) log c whose :func:`curve` gives the sample that
    mean luma (bisection; log c within +-``LOG_C_RANGE``: an aim beyond what that reaches gets the nearest end)."""
    low = torch.full_like(aim, -LOG_C_RANGE)
    high = torch.full_like(aim, LOG_C_RANGE)
    for _ in range(steps):  # the mean luma falls as log c rises
        middle = (low + high) / 2
        too_bright = mean_luma(curve(sample, middle)).clamp_min(1e-3).log() > aim
        low, high = torch.where(too_bright, middle, low), torch.where(too_bright, high, middle)
    return (low + high) / 2


def apply_curve_(x: Tensor, log_c: Tensor) -> Tensor:
    """:func:`curve` written into x (B, 3, H, W), ``ROWS_PER_CHUNK`` rows at a time; returns x."""
    for image, value in zip(x, log_c.tolist(), strict=True):
        c = math.exp(value)
        if c == 1.0:
            continue
        buffer = torch.empty_like(image[:, :ROWS_PER_CHUNK])
        for start in range(0, image.shape[1], ROWS_PER_CHUNK):
            rows = image[:, start : start + ROWS_PER_CHUNK]
            denominator = buffer[:, : rows.shape[1]]
            torch.mul(rows, 1.0 - c, out=denominator).add_(c)
            rows.div_(denominator)
    return x


class ExposureSmoother(FrameSmoother):
    """Video: the predicted log mean luma smoothed over frames (no flicker from frame-to-frame noise in the input)."""

    def __init__(self, target: ExposureTarget, momentum: float = 0.9, every: int = 1,
                 statistics: Callable[[Tensor], Tensor] = exposure_features):  # fmt: skip
        """``statistics``: how a frame's :func:`exposure_features` are had (shared with other smoothers in a video)."""
        super().__init__(lambda frame: target.predicted_from_features(statistics(frame)), momentum, every)
