"""Temporal noise reduction for video from a still or slowly moving camera (`lowface enhance --temporal-denoise`).

Brightening a dark frame multiplies its sensor noise, and fresh noise in every frame reads as a shimmering
picture even when nothing moves. A motion-adaptive recursive filter - the temporal noise reduction of camera
pipelines - averages each pixel over past frames where the scene is static and follows the new frame where it
moves; it runs on the dark input, before enhancement, so the enhancer sees less noise:

    state <- state + k * (frame - state),   k = 1 / strength where |frame - state| is consistent with noise,
                                            k = 1 where it is at least twice that (motion: no ghost).

The test for motion is the local mean absolute difference over a 5x5 window and the three channels, against
the noise level sigma. Sigma is measured from the frame differences themselves, not from one frame's spatial
detail (video compression smooths noise spatially but not in time): the 10th percentile of the mean absolute
difference over 16x16 blocks - the static, flat part of the picture - smoothed over frames.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

BLOCK = 16
MEAN_ABS_PER_SIGMA = math.sqrt(2 / math.pi)  # E|n| / sigma for Gaussian n


def difference_sigma(difference: Tensor) -> Tensor:
    """(B, C, H, W) frame difference -> (B,) standard deviation of its noise: the 10th percentile over 16x16
    blocks of the mean absolute difference (static regions), over E|n| / sigma of a Gaussian."""
    block = min(BLOCK, *difference.shape[-2:])
    means = F.avg_pool2d(difference.abs().mean(1, keepdim=True), block).flatten(1)
    return torch.quantile(means, 0.1, dim=1) / MEAN_ABS_PER_SIGMA


class TemporalDenoiser:
    """Call once per frame, in order: (1, 3, H, W) in [0, 1] -> the filtered frame, same shape and range.

    ``strength``: how many frames a static pixel is averaged over at most (the recursive weight is 1/strength;
    the noise standard deviation of a static scene drops by about sqrt(2 * strength - 1)). The first frame,
    and every frame after a change of size, passes unchanged.
    """

    def __init__(self, strength: float = 8.0, sigma_momentum: float = 0.8):
        if strength < 1:
            raise ValueError(f"strength must be >= 1, got {strength}")
        self.min_weight = 1.0 / strength
        self.sigma_momentum = sigma_momentum
        self.reset()

    def reset(self) -> None:
        self.state: Tensor | None = None
        self.sigma: Tensor | None = None

    @torch.no_grad()
    def __call__(self, frame: Tensor) -> Tensor:
        x = frame.float()
        if self.state is None or self.state.shape != x.shape:
            self.state, self.sigma = x.clone(), None
            return frame
        difference = x - self.state
        # the state's own noise: that of a raw frame right after a restart, about a 1/(2 strength - 1) variance later
        state_variance = 1.0 if self.sigma is None else self.min_weight / (2 - self.min_weight)
        sigma = difference_sigma(difference) / math.sqrt(1 + state_variance)
        m = self.sigma_momentum
        self.sigma = sigma if self.sigma is None else m * self.sigma + (1 - m) * sigma
        expected = (MEAN_ABS_PER_SIGMA * math.sqrt(1 + state_variance)) * self.sigma.clamp_min(1e-4)
        local = F.avg_pool2d(difference.abs().mean(1, keepdim=True), 5, stride=1, padding=2, count_include_pad=False)
        # 0 while the local difference is within 1.25x of what noise alone gives, 1 from 2.5x on (motion)
        motion = (local / (1.25 * expected.view(-1, 1, 1, 1)) - 1.0).clamp(0.0, 1.0)
        weight = self.min_weight + (1.0 - self.min_weight) * motion
        self.state = self.state + weight * difference
        return self.state.to(frame.dtype)
