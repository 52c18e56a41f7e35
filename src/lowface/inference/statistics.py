"""Whole-image statistics shared by the exposure gate and the noise router, and their smoothing over video frames.

Reference for the noise estimate: J. Immerkær, "Fast noise variance estimation", CVIU 64(2), 1996.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch import Tensor

from lowface.filters import area_downsample, opencv_can_run, plain_inference
from lowface.filters import luma as luma_map

STATISTICS_SIDE = 256  # brightness statistics are taken on the image area-downsampled to at most this side
# The whole-image brightness statistics, in the order of exposure_features' columns; each fitted model picks its own
# by name (select_statistics). Luma quantiles are log(q + 1e-3); "log_peak_p99": the 99th percentile of the brightest
# channel; "saturation": mean (max - min) / max over the channels; "log_spread": std of log(luma + 0.01).
LUMA_QUANTILES = {"log_p01": 0.01, "log_p05": 0.05, "log_p25": 0.25, "log_median": 0.5, "log_p75": 0.75,
                  "log_p95": 0.95, "log_p99": 0.99, "log_p999": 0.999}  # fmt: skip
BRIGHTNESS_STATISTICS = ("log_mean", "log_median", "log_p95", "dark_share", "log_p01", "log_p05", "log_p25",
                         "log_p75", "log_p99", "log_p999", "log_peak_p99", "saturation", "log_spread")  # fmt: skip


def exposure_features(x: Tensor) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 13) the :data:`BRIGHTNESS_STATISTICS` of each image (log mean luma, log luma
    quantiles, share of luma below 0.1, highlight, colour saturation and log-luma spread)."""
    scale = max(1, -(-max(x.shape[-2:]) // STATISTICS_SIDE))
    small = area_downsample(x.float(), scale)
    luma = luma_map(small).flatten(1)
    eps = 1e-3
    quantiles = row_quantiles(luma, luma.new_tensor(list(LUMA_QUANTILES.values())))
    peak = small.amax(1).flatten(1)  # the brightest channel
    columns = {
        "log_mean": (luma.mean(1) + eps).log(),
        "dark_share": (luma < 0.1).float().mean(1),
        **{name: (value + eps).log() for name, value in zip(LUMA_QUANTILES, quantiles, strict=True)},
        "log_peak_p99": (row_quantiles(peak, peak.new_tensor([0.99]))[0] + eps).log(),
        "saturation": ((peak - small.amin(1).flatten(1)) / (peak + eps)).mean(1),
        "log_spread": (luma + 0.01).log().std(1, correction=0),  # (0, not NaN, on a one-pixel image)
    }
    return torch.stack([columns[name] for name in BRIGHTNESS_STATISTICS], 1)


def row_quantiles(values: Tensor, q: Tensor) -> Tensor:
    """(B, N) values, (Q,) levels in [0, 1] -> (Q, B): ``torch.quantile(values, q, dim=1)`` (linear interpolation)
    to the bit, for values without NaN, with the sort done by NumPy on a CPU (a 1080p frame's 32,400 statistics
    pixels: 2.4 -> 0.6 ms, one thread; this runs on every image and video frame the gate or the router sees)."""
    if values.device.type != "cpu" or not plain_inference():
        return torch.quantile(values, q, dim=1)
    ordered = torch.from_numpy(np.sort(values.numpy(), axis=1))
    ranks = q * (values.shape[1] - 1)  # torch's own steps: the order statistics below and above, then lerp
    below, above = ranks.long(), ranks.ceil().long()
    lower = ordered[:, below].t().contiguous()
    return lower.lerp_(ordered[:, above].t(), (ranks - below)[:, None].expand_as(lower))


class SharedStatistics:
    """:func:`exposure_features` of a video frame, computed once for it: the gate, the router and the exposure
    target measure the same frame. :meth:`clear` before each new frame (the frame is recognised by identity)."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.frame: Tensor | None = None
        self.value: Tensor | None = None

    def __call__(self, frame: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 13)."""
        if frame is not self.frame:
            self.frame, self.value = frame, exposure_features(frame)
        return self.value


def select_statistics(statistics: Tensor, names: tuple[str, ...]) -> Tensor:
    """(B, 13) :func:`exposure_features` -> (B, len(names)): the columns of the named statistics, in that order."""
    return statistics[:, [BRIGHTNESS_STATISTICS.index(name) for name in names]]


# Immerkær's kernel [[1, -2, 1], [-2, 4, -2], [1, -2, 1]] is the outer product of two second differences
# [1, -2, 1], applied here as such (9x faster than a 3x3 convolution). It cancels constant, linear and quadratic
# image content; on white noise of std s its response has std 6 s, and E|response| = 6 s sqrt(2 / pi).
_ROWS_PER_CHUNK = 512  # bounds the estimator's memory on large images (the response is summed strip by strip)
_SECOND_DIFFERENCE = np.array([1.0, -2.0, 1.0], np.float32)


def _second_differences(x: Tensor) -> Tensor:
    """(..., H, W) -> (..., H - 2, W - 2): x convolved with Immerkær's kernel (valid region)."""
    x = x[..., :, 2:] - 2 * x[..., :, 1:-1] + x[..., :, :-2]
    return x[..., 2:, :] - 2 * x[..., 1:-1, :] + x[..., :-2, :]


def noise_sigma(x: Tensor) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B,) estimated std of additive noise, averaged over the three channels.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> noisy = 0.5 + 0.05 * torch.randn(1, 3, 256, 256)
        >>> round(noise_sigma(noisy).item(), 3)
        0.05

    Immerkær's estimator sigma = sqrt(pi / 2) / 6 * mean |x * K| over the valid pixels, per channel. Edges add
    to it, so on textured images it is an upper bound; the router is fitted on the same estimate.
    """
    if x.shape[-2] < 3 or x.shape[-1] < 3:
        raise ValueError(f"noise estimate needs an image of at least 3 x 3 pixels, got {tuple(x.shape[-2:])}")
    if opencv_can_run(x):  # OpenCV's separable filter and L1 norm: 4x faster at 1080p, same value to rounding
        total = torch.tensor([_opencv_response_l1(image.detach().numpy()) for image in x], dtype=torch.float64)
    else:
        total = _response_l1(x)
    count = 3 * (x.shape[-2] - 2) * (x.shape[-1] - 2)
    return (total / count * math.sqrt(math.pi / 2) / 6).float()


def _response_l1(x: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B,) float64 sum of |x * K| over the valid pixels, strip by strip."""
    total = x.new_zeros(x.shape[0], dtype=torch.float64)
    height = x.shape[-2]
    for top in range(0, height - 2, _ROWS_PER_CHUNK):
        strip = x[:, :, top : min(top + _ROWS_PER_CHUNK + 2, height)].float()
        total += _second_differences(strip).abs().sum((1, 2, 3)).double()
    return total


def _opencv_response_l1(image: np.ndarray) -> float:
    """(3, H, W) float32 -> :func:`_response_l1` of one image, plane by plane through OpenCV."""
    cv2.setNumThreads(torch.get_num_threads())
    total = 0.0
    for plane in image:
        response = cv2.sepFilter2D(np.ascontiguousarray(plane), cv2.CV_32F, _SECOND_DIFFERENCE, _SECOND_DIFFERENCE)
        total += cv2.norm(response[1:-1, 1:-1], cv2.NORM_L1)
    return total


def noise_features(x: Tensor, brightness: Tensor | None = None) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 3): log estimated noise std, log mean and log 95th percentile of luma
    (the brightness statistics on the image area-downsampled as for the exposure gate; ``brightness``: x's
    :func:`exposure_features` where the caller has them already)."""
    brightness = exposure_features(x) if brightness is None else brightness
    noise = (noise_sigma(x) + 1e-4).log()[:, None]
    return torch.cat([noise, select_statistics(brightness, ("log_mean", "log_p95"))], 1)


class FrameSmoother:
    """Exponential smoothing of a per-frame measurement over video frames: v_t = a v_(t-1) + (1 - a) m(frame_t),
    v_0 = m(frame_0). ``every`` n: only every n-th frame is measured (the frames between keep the last value) and each
    measurement weighs in with momentum a^n - the same time constant in frames at 1/n of the cost (a whole-frame
    noise estimate is a quarter of lowface-fast's time at 1080p)."""

    def __init__(self, measure: Callable[[Tensor], Tensor], momentum: float = 0.9, every: int = 1):
        if every < 1:
            raise ValueError(f"every must be a positive number of frames, got {every}")
        self.measure, self.momentum, self.every = measure, momentum**every, every
        self.value: Tensor | None = None
        self.frames = 0

    def __call__(self, frame: Tensor) -> Tensor:
        """frame (1, 3, H, W) -> smoothed measurement."""
        if self.frames % self.every == 0:
            current = self.measure(frame)
            self.value = current if self.value is None else self.momentum * self.value + (1 - self.momentum) * current
        self.frames += 1
        return self.value
