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
reference than either where the choice is close (benchmarks/results/soft_routing/). A second band, ``detail_blend``,
gives the detail (what a 1/4-scale low-pass leaves, :func:`tone_and_detail`) its own share: real captures want the
restoring network's detail (their grain removed) at probabilities where the fast network's tone and colour are still
the better half (benchmarks/results/split_routing/). For video the shares follow the smoothed probability and change
continuously: no hysteresis is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.inference.chroma import ChromaSmoothing
from lowface.inference.exposure import ExposureTarget
from lowface.inference.logistic import LogisticModel
from lowface.inference.statistics import FrameSmoother, exposure_features, noise_features
from lowface.models.base import EnhancementModel

ROUTER_FILE = "noise_router.json"
FEATURES = ("log_noise", "log_mean", "log_p95")
DETAIL_SCALE = 4  # the low-pass of tone_and_detail: area mean over 4 x 4 pixels, bilinear back


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


def _area_means(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, ceil(H / DETAIL_SCALE), ceil(W / DETAIL_SCALE)) means of DETAIL_SCALE-pixel squares."""
    return F.avg_pool2d(x, DETAIL_SCALE, ceil_mode=True, count_include_pad=False)


def _full_size(small: Tensor, like: Tensor) -> Tensor:
    """:func:`_area_means`'s output brought back to ``like``'s size bilinearly."""
    return F.interpolate(small, size=like.shape[-2:], mode="bilinear", align_corners=False)


def tone_and_detail(x: Tensor) -> tuple[Tensor, Tensor]:
    """(B, C, H, W) -> (tone, detail), tone + detail = x: tone is x's area mean over DETAIL_SCALE x DETAIL_SCALE
    pixels brought back to full size bilinearly (shade and colour), detail the rest (texture, grain, edges)."""
    tone = _full_size(_area_means(x), x)
    return tone, x - tone


def mix_tone_and_detail(fast: Tensor, restore: Tensor, tone: Tensor, detail: Tensor) -> Tensor:
    """fast + tone * low + detail * high, (low, high) = :func:`tone_and_detail` (restore - fast), clamped to [0, 1]
    (with two shares the mix is no longer a convex combination of [0, 1] images); (B, 3, H, W) images, (B,) shares.
    Computed as fast + detail (restore - fast) + (tone - detail) low, in place: 40 ms at 1080p, one thread (not 100)."""
    difference = restore - fast
    small = _area_means(difference)
    out = difference.mul_(detail.view(-1, 1, 1, 1)).add_(fast)
    return out.addcmul_(_full_size(small, out), (tone - detail).view(-1, 1, 1, 1)).clamp_(0, 1)


def one_network(tone: Tensor, detail: Tensor) -> Tensor:
    """(B,) shares of the restoring network -> (B,) bool: True where one network alone makes the image (both shares
    0: the fast one, both 1: the restoring one)."""
    return (tone == detail) & ((tone == 0) | (tone == 1))


class RoutedModel(EnhancementModel):
    """Two enhancers and a router. Image i is fast_i + t_i tone(restore_i - fast_i) + d_i detail(restore_i - fast_i)
    (:func:`tone_and_detail`), the shares t and d in [0, 1] following the router's probability p_i that the restoring
    network is the better choice: without a ``blend`` band t = d = 1 if p > 0.5 else 0 (one network runs); with one,
    t ramps over ``blend`` and d over ``detail_blend`` (default: the same band, so that the output is fast + t
    (restore - fast)). With an ``exposure`` target (:mod:`lowface.inference.exposure`), the result is then moved
    towards the brightness it predicts for the input; with ``chroma`` (:mod:`lowface.inference.chroma`), its colour
    noise is then smoothed where the input was dark.

    ``forward`` routes whole inputs (what a direct call sees); :class:`lowface.Enhancer` routes each whole image
    first and then tiles the networks, so large images get the same shares as small ones.
    """

    def __init__(self, fast: EnhancementModel, restore: EnhancementModel, router: NoiseRouter, names: tuple[str, str],
                 exposure: ExposureTarget | None = None, blend: tuple[float, float] | None = None,
                 detail_blend: tuple[float, float] | None = None, chroma: ChromaSmoothing | None = None):  # fmt: skip
        """``blend``: (low, high), 0 <= low < high <= 1, the band of router probabilities over which the output moves
        from the fast network's to the restoring one's; None: a hard choice at 0.5. ``detail_blend``: the same for
        the detail alone (needs ``blend``; None: ``blend``)."""
        super().__init__()
        for name, band in (("blend", blend), ("detail_blend", detail_blend)):
            if band is not None and not 0.0 <= band[0] < band[1] <= 1.0:
                raise ValueError(f"{name} must be (low, high) with 0 <= low < high <= 1, got {band}")
        if detail_blend is not None and blend is None:
            raise ValueError("detail_blend needs a blend band")
        self.networks = nn.ModuleList([fast, restore])
        self.router = router
        self.names = names
        self.exposure = exposure
        self.chroma = chroma
        self.blend = None if blend is None else (float(blend[0]), float(blend[1]))
        self.detail_blend = self.blend if detail_blend is None else (float(detail_blend[0]), float(detail_blend[1]))

    def shares(self, probability: Tensor) -> tuple[Tensor, Tensor]:
        """(B,) router probabilities -> the restoring network's shares of the tone and of the detail, (B,) each in
        [0, 1] (0 or 1 without a band)."""
        return restore_share(probability, self.blend), restore_share(probability, self.detail_blend)

    def probability(self, x: Tensor, brightness: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) router probability that the restoring network is the better choice
        (``brightness``: x's :func:`lowface.inference.statistics.exposure_features`, where the caller has them)."""
        return self.router.probability(x, brightness)

    def label(self, probability: float) -> str:
        """What ran for an image with this router probability: a network's name, or both names for a mix."""
        tone, detail = self.shares(torch.tensor([probability]))
        return self.names[int(tone)] if bool(one_network(tone, detail)) else f"{self.names[1]} + {self.names[0]}"

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> the enhanced images, same shape."""
        brightness = exposure_features(x)
        out = self.apply_route(x, self.probability(x, brightness), lambda network, part: network.enhance(part))
        return self.finish_(out.clone(), x, brightness)

    def finish_(self, out: Tensor, x: Tensor, brightness: Tensor | None = None,
                predicted: Tensor | None = None) -> Tensor:  # fmt: skip
        """The routed result ``out`` of x (B, 3, H, W) moved towards the predicted brightness (given as ``predicted``
        (B,) log mean luma, or from x's :func:`exposure_features` ``brightness``, measured where None) and its chroma
        smoothed, in place as far as the steps allow; returns it."""
        if self.exposure is not None:
            features = exposure_features(x) if brightness is None and predicted is None else brightness
            out = self.exposure.settle(out, features, predicted)
        return self.chroma.apply_(out, x) if self.chroma is not None else out

    def apply_route(self, x: Tensor, probability: Tensor, run: Callable[[nn.Module, Tensor], Tensor]) -> Tensor:
        """``run(network, images)`` on the images each network contributes to, mixed by the shares of ``probability``
        (B,) (:meth:`shares`), clamped to [0, 1]; images whose shares are both 0 or both 1 run one network, in input
        order."""
        tone, detail = (share.to(x) for share in self.shares(probability.to(x)))
        alone = one_network(tone, detail)
        if len(tone) and bool(alone.all()) and bool((tone == tone[0]).all()):  # one network for all (a frame)
            return run(self.networks[int(tone[0])], x).to(x)
        out = torch.empty_like(x)
        for index in (0, 1):
            picked = (alone & (tone == index)).nonzero().flatten()
            if len(picked):
                out[picked] = run(self.networks[index], x[picked]).to(x)
        mixed = (~alone).nonzero().flatten()
        if len(mixed):
            fast, restore = (run(network, x[mixed]).to(x) for network in self.networks)
            out[mixed] = mix_tone_and_detail(fast, restore, tone[mixed], detail[mixed])
        return out


class RouteSmoother:
    """Video: the router's probability smoothed over frames, p_t = a p_(t-1) + (1 - a) p(frame_t), and a choice that
    changes only when p_t crosses 0.5 by ``margin`` (hysteresis), so noise in the estimate never flips networks (0 or 1
    is passed on); a model with a ``blend`` band takes p_t itself, whose shares move as slowly as p_t does.
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
        """frame (1, 3, H, W) -> the probability (1,) in [0, 1] to route it by (:meth:`RoutedModel.apply_route`)."""
        value = self.probability(frame)
        if getattr(self.model, "blend", None) is not None:
            return value
        if self.choice is None:  # first frame: its own choice
            self.choice = (value > 0.5).to(value.dtype)
        else:
            to_restore, to_fast = value > 0.5 + self.margin, value < 0.5 - self.margin
            self.choice = torch.where(to_restore, 1.0, torch.where(to_fast, 0.0, self.choice))
        return self.choice
