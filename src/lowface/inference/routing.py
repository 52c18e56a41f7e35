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

Where the router is unsure, a routed card can hedge instead of choosing (its ``blend`` band, lowface-auto's): inside the
band of probabilities (low, high) the output is the mix fast + s (restore - fast), s rising linearly from 0 at low to
1 at high, both networks run; outside it, one network runs, as before. The two networks err differently on real
captures (one keeps real grain and texture, the other smooths them with the noise), so the mix is closer to the
reference than either where the choice is close (benchmarks/results/soft_routing/). For video the share follows the
smoothed probability and changes continuously: no hysteresis is needed.
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


def restore_share(probability: Tensor, blend: tuple[float, float] | None) -> Tensor:
    """(B,) router probabilities -> (B,) share of the restoring network in [0, 1]: the ramp from 0 at ``blend``'s low
    to 1 at its high, or without a band the hard choice (probability > 0.5)."""
    if blend is None:
        return (probability > 0.5).to(probability.dtype)
    low, high = blend
    return ((probability - low) / (high - low)).clamp(0, 1)


class RoutedModel(EnhancementModel):
    """Two enhancers and a router: image i is fast_i + share_i (restore_i - fast_i), share 1 = the restoring network
    alone, 0 = the fast one alone (without a ``blend`` band, always one of the two: router probability > 0.5); with
    an ``exposure`` target (:mod:`lowface.inference.exposure`), the result is then moved towards the brightness it
    predicts for the input.

    ``forward`` routes whole inputs (what a direct call sees); :class:`lowface.Enhancer` routes each whole image
    first and then tiles the chosen network, so large images get the same choice as small ones.
    """

    def __init__(self, fast: EnhancementModel, restore: EnhancementModel, router: NoiseRouter, names: tuple[str, str],
                 exposure: ExposureTarget | None = None, blend: tuple[float, float] | None = None):  # fmt: skip
        """``blend``: (low, high), 0 <= low < high <= 1, the band of router probabilities over which the output moves
        from the fast network's to the restoring one's; None: a hard choice at 0.5."""
        super().__init__()
        if blend is not None and not 0.0 <= blend[0] < blend[1] <= 1.0:
            raise ValueError(f"blend must be (low, high) with 0 <= low < high <= 1, got {blend}")
        self.networks = nn.ModuleList([fast, restore])
        self.router = router
        self.names = names
        self.exposure = exposure
        self.blend = None if blend is None else (float(blend[0]), float(blend[1]))

    def share_from_probability(self, probability: Tensor) -> Tensor:
        """(B,) router probabilities -> (B,) share of the restoring network in [0, 1] (0 or 1 without a band)."""
        return restore_share(probability, self.blend)

    def share(self, x: Tensor, brightness: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) share of the restoring network in the output, in [0, 1] (``brightness``:
        x's :func:`lowface.inference.statistics.exposure_features`, where the caller has them)."""
        return self.share_from_probability(self.router.probability(x, brightness))

    def label(self, share: float) -> str:
        """What ran for an image with this share: a network's name, or both names for a mix."""
        return self.names[0] if share <= 0 else self.names[1] if share >= 1 else f"{self.names[1]} + {self.names[0]}"

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> the enhanced images, same shape."""
        brightness = exposure_features(x)
        out = self.apply_share(x, self.share(x, brightness), lambda network, part: network.enhance(part))
        return self.exposure.settle(out.clone(), brightness) if self.exposure is not None else out

    def apply_share(self, x: Tensor, share: Tensor, run: Callable[[nn.Module, Tensor], Tensor]) -> Tensor:
        """``run(network, images)`` on the images each network contributes to (share < 1: the fast one, share > 0:
        the restoring one); fast + share (restore - fast), in input order."""
        share = share.to(x)
        if len(share) and bool((share == share[0]).all()) and float(share[0]) in (0.0, 1.0):  # one network (a frame)
            return run(self.networks[int(share[0])], x).to(x)
        out = torch.zeros_like(x)
        for network, weight in zip(self.networks, (1 - share, share), strict=True):
            picked = (weight > 0).nonzero().flatten()
            if len(picked):
                out[picked] += weight[picked].view(-1, 1, 1, 1) * run(network, x[picked]).to(out)
        return out


class RouteSmoother:
    """Video: the router's probability smoothed over frames, p_t = a p_(t-1) + (1 - a) p(frame_t), and a choice that
    changes only when p_t crosses 0.5 by ``margin`` (hysteresis), so noise in the estimate never flips networks; a
    model with a ``blend`` band takes the share of p_t itself, which moves as slowly as p_t does.
    ``every``: see :class:`FrameSmoother`."""

    def __init__(self, model: RoutedModel, momentum: float = 0.9, margin: float = 0.15, every: int = 1,
                 statistics: Callable[[Tensor], Tensor] = exposure_features):  # fmt: skip
        """``statistics``: how a frame's :func:`exposure_features` are had (shared with other smoothers in a video)."""
        self.probability = FrameSmoother(lambda frame: model.router.probability(frame, statistics(frame)), momentum,
                                         every)  # fmt: skip
        self.margin = margin
        self.model = model
        self.choice: Tensor | None = None

    def __call__(self, frame: Tensor) -> Tensor:
        """frame (1, 3, H, W) -> share of the restoring network (1,) in [0, 1]."""
        value = self.probability(frame)
        if getattr(self.model, "blend", None) is not None:
            return self.model.share_from_probability(value)
        if self.choice is None:  # first frame: its own choice
            self.choice = (value > 0.5).to(value.dtype)
        else:
            to_restore, to_fast = value > 0.5 + self.margin, value < 0.5 - self.margin
            self.choice = torch.where(to_restore, 1.0, torch.where(to_fast, 0.0, self.choice))
        return self.choice
