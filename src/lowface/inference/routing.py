"""Noise-aware model choice (``lowface-auto``): the fast network for clean dark images, a restoring one for noisy.

Brightening multiplies sensor noise. ``lowface-fast`` keeps it (its output is S / I), the restoring network removes
it, at several times the cost and a little fidelity on noise-free inputs. The router estimates each image's noise
level (Immerkær's operator, in :mod:`lowface.inference.statistics`) and its brightness, and a logistic model on (log
noise, log mean luma, log 95th percentile of luma) picks the network. It is fitted by ``tools/fit_noise_router.py``
on LFW's training list under the training presets and on SICE's real training pairs (label: the network whose
output is closer to the clean image or reference, weighted by how much closer) and shipped in
``lowface/weights/``, one file per routed pair (its card's ``router``), with the command that made it. The choice
is made once per whole image, before tiling; for video it is smoothed over frames with hysteresis
(:class:`RouteSmoother`) so that a clip does not switch networks back and forth.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch
from torch import Tensor, nn

from lowface.inference.exposure import ExposureTarget
from lowface.inference.logistic import LogisticModel
from lowface.inference.statistics import FrameSmoother, exposure_features, noise_features
from lowface.models.base import EnhancementModel

ROUTER_FILE = "noise_router.json"
FEATURES = ("log_noise", "log_mean", "log_p95")


class NoiseRouter(LogisticModel):
    """The logistic probability, on :func:`noise_features`, that the restoring network is the better choice."""

    FEATURES = FEATURES

    def probability(self, x: Tensor, brightness: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) probability that the restoring network is the better choice
        (``brightness``: x's exposure features, where the caller has them)."""
        return self.probability_from_features(noise_features(x, brightness))


@lru_cache(maxsize=4)
def shipped_router(file: str = ROUTER_FILE) -> NoiseRouter:
    """A router fitted by tools/fit_noise_router.py and shipped as lowface/weights/<file> (default: lowface-auto's)."""
    return NoiseRouter.load_shipped(file)


class RoutedModel(EnhancementModel):
    """Two enhancers and a router: image i goes through ``networks[choice[i]]``; choice 1 = the restoring one; with
    an ``exposure`` target (:mod:`lowface.inference.exposure`), the result is then moved towards the brightness it
    predicts for the input.

    ``forward`` routes whole inputs (what a direct call sees); :class:`lowface.Enhancer` routes each whole image
    first and then tiles the chosen network, so large images get the same choice as small ones.
    """

    def __init__(self, fast: EnhancementModel, restore: EnhancementModel, router: NoiseRouter, names: tuple[str, str],
                 exposure: ExposureTarget | None = None):  # fmt: skip
        super().__init__()
        self.networks = nn.ModuleList([fast, restore])
        self.router = router
        self.names = names
        self.exposure = exposure

    def choose(self, x: Tensor, brightness: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) long: 0 = the fast network, 1 = the restoring one (``brightness``: x's
        :func:`lowface.inference.statistics.exposure_features`, where the caller has them)."""
        return (self.router.probability(x, brightness) > 0.5).long()

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> the enhanced images, same shape."""
        brightness = exposure_features(x)
        out = self.apply_choice(x, self.choose(x, brightness), lambda network, part: network.enhance(part))
        return self.exposure.settle(out.clone(), brightness) if self.exposure is not None else out

    def apply_choice(self, x: Tensor, choice: Tensor, run: Callable[[nn.Module, Tensor], Tensor]) -> Tensor:
        """``run(network, images)`` on each group of images that share a choice; the results in input order."""
        if len(choice) and bool((choice == choice[0]).all()):  # one network for all (one image, a frame): no copies
            return run(self.networks[int(choice[0])], x).to(x)
        out = torch.empty_like(x)
        for index, network in enumerate(self.networks):
            picked = (choice.to(x.device) == index).nonzero().flatten()
            if len(picked):
                out[picked] = run(network, x[picked]).to(out)
        return out


class RouteSmoother:
    """Video: the router's probability smoothed over frames, p_t = a p_(t-1) + (1 - a) p(frame_t), and a choice that
    changes only when p_t crosses 0.5 by ``margin`` (hysteresis), so noise in the estimate never flips networks;
    ``every``: see :class:`FrameSmoother`."""

    def __init__(self, model: RoutedModel, momentum: float = 0.9, margin: float = 0.15, every: int = 1,
                 statistics: Callable[[Tensor], Tensor] = exposure_features):  # fmt: skip
        """``statistics``: how a frame's :func:`exposure_features` are had (shared with other smoothers in a video)."""
        self.probability = FrameSmoother(lambda frame: model.router.probability(frame, statistics(frame)), momentum,
                                         every)  # fmt: skip
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
