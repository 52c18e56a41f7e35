"""Noise-aware model choice (``lowface-auto``): the fast network for clean dark images, the restoring one for noisy.

Brightening multiplies sensor noise. ``lowface-fast`` keeps it (its output is S / I), ``lowface-restore`` removes
it, at 2.7x the cost and a little fidelity on noise-free inputs. The router estimates each image's noise level
(Immerkær's operator, below) and its brightness, and a logistic model on (log noise, log mean luma, log 95th
percentile of luma) picks the network. It is fitted by ``tools/fit_noise_router.py`` on LFW's training list
(label: the network whose output is closer to the clean image, weighted by how much closer) and shipped as
``lowface/weights/noise_router.json`` with the command that made it. The choice is made once per whole image,
before tiling; for video it is smoothed over frames with hysteresis (:class:`RouteSmoother`) so that a clip does
not switch networks back and forth.

Reference: J. Immerkær, "Fast noise variance estimation", CVIU 64(2), 1996.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import torch
from torch import Tensor, nn

from lowface.gate import FrameSmoother, exposure_features
from lowface.logistic import LogisticModel

ROUTER_FILE = "noise_router.json"
FEATURES = ("log_noise", "log_mean", "log_p95")
# Immerkær's kernel [[1, -2, 1], [-2, 4, -2], [1, -2, 1]] is the outer product of two second differences
# [1, -2, 1], applied here as such (9x faster than a 3x3 convolution). It cancels constant, linear and quadratic
# image content; on white noise of std s its response has std 6 s, and E|response| = 6 s sqrt(2 / pi).
_ROWS_PER_CHUNK = 512  # bounds the estimator's memory on large images (the response is summed strip by strip)


def _second_differences(x: Tensor) -> Tensor:
    """(..., H, W) -> (..., H - 2, W - 2): x convolved with Immerkær's kernel (valid region)."""
    x = x[..., :, 2:] - 2 * x[..., :, 1:-1] + x[..., :, :-2]
    return x[..., 2:, :] - 2 * x[..., 1:-1, :] + x[..., :-2, :]


def noise_sigma(x: Tensor) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B,) estimated std of additive noise, averaged over the three channels.

    Immerkær's estimator sigma = sqrt(pi / 2) / 6 * mean |x * K| over the valid pixels, per channel. Edges add
    to it, so on textured images it is an upper bound; the router is fitted on the same estimate.
    """
    if x.shape[-2] < 3 or x.shape[-1] < 3:
        raise ValueError(f"noise estimate needs an image of at least 3 x 3 pixels, got {tuple(x.shape[-2:])}")
    total = x.new_zeros(x.shape[0], dtype=torch.float64)
    height = x.shape[-2]
    for top in range(0, height - 2, _ROWS_PER_CHUNK):
        strip = x[:, :, top : min(top + _ROWS_PER_CHUNK + 2, height)].float()
        total += _second_differences(strip).abs().sum((1, 2, 3)).double()
    count = 3 * (x.shape[-2] - 2) * (x.shape[-1] - 2)
    return (total / count * math.sqrt(math.pi / 2) / 6).float()


def noise_features(x: Tensor) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 3): log estimated noise std, log mean and log 95th percentile of luma
    (the brightness statistics on the image area-downsampled as for the exposure gate)."""
    brightness = exposure_features(x)  # log mean, log median, log p95, dark share
    return torch.stack([(noise_sigma(x) + 1e-4).log(), brightness[:, 0], brightness[:, 2]], 1)


class NoiseRouter(LogisticModel):
    """The logistic probability, on :func:`noise_features`, that the restoring network is the better choice."""

    FEATURES = FEATURES

    def probability(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) probability that the restoring network is the better choice."""
        return self.probability_from_features(noise_features(x))


@lru_cache(maxsize=1)
def shipped_router() -> NoiseRouter:
    """The router fitted by tools/fit_noise_router.py and shipped in lowface/weights/."""
    return NoiseRouter.load_shipped(ROUTER_FILE)


class RoutedModel(nn.Module):
    """Two enhancers and a router: image i goes through ``networks[choice[i]]``; choice 1 = the restoring one.

    ``forward`` routes whole inputs (what a direct call sees); :class:`lowface.Enhancer` routes each whole image
    first and then tiles the chosen network, so large images get the same choice as small ones.
    """

    def __init__(self, fast: nn.Module, restore: nn.Module, router: NoiseRouter, names: tuple[str, str]):
        super().__init__()
        self.networks = nn.ModuleList([fast, restore])
        self.router = router
        self.names = names

    def choose(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) long: 0 = the fast network, 1 = the restoring one."""
        return (self.router.probability(x) > 0.5).long()

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> the enhanced images, same shape."""
        from lowface.api import enhanced_image

        return self.apply_choice(x, self.choose(x), lambda network, part: enhanced_image(network(part)))

    def apply_choice(self, x: Tensor, choice: Tensor, run: Callable[[nn.Module, Tensor], Tensor]) -> Tensor:
        """``run(network, images)`` on each group of images that share a choice; the results in input order."""
        out = torch.empty_like(x)
        for index, network in enumerate(self.networks):
            picked = (choice.to(x.device) == index).nonzero().flatten()
            if len(picked):
                out[picked] = run(network, x[picked]).to(out)
        return out


class RouteSmoother:
    """Video: the router's probability smoothed over frames, p_t = a p_(t-1) + (1 - a) p(frame_t), and a choice that
    changes only when p_t crosses 0.5 by ``margin`` (hysteresis), so noise in the estimate never flips networks."""

    def __init__(self, model: RoutedModel, momentum: float = 0.9, margin: float = 0.15):
        self.probability = FrameSmoother(model.router.probability, momentum)
        self.margin = margin
        self.choice: Tensor | None = None

    def __call__(self, frame: Tensor) -> Tensor:
        """frame (1, 3, H, W) -> choice (1,) long."""
        value = self.probability(frame)
        if self.choice is None:  # first frame: its own choice
            self.choice = (value > 0.5).long()
        else:
            to_restore, to_fast = value > 0.5 + self.margin, value < 0.5 - self.margin
            self.choice = torch.where(to_restore, 1, torch.where(to_fast, 0, self.choice))
        return self.choice
