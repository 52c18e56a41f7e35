"""Simulated 8-bit activations, for training a network that will run its convolutions in int8 (issue 22).

Post-training int8 of the restoring U-Net costs SICE val SSIM 0.004 (benchmarks/results/int8/): the grain of 8-bit
activations reaches the noise estimate, whichever level is quantised. Quantisation-aware training lets the network
learn around that grain: each activation a convolution reads is rounded to 256 levels in the forward pass (one
range per map, as oneDNN's int8 convolutions take it) and passed straight through in the backward pass. The ranges
are tracked while training (a moving average of each batch's minimum and maximum) and saved with the weights: they
are the scales an int8 runtime quantises with.

:func:`simulated_unet` is the int8 runtime (:mod:`lowface.models.int8`) in differentiable float ops, rounding where
it rounds: weights to int8 per output channel, each convolution's pre-activation onto its wider grid before the leaky
ReLU and the activation onto its own, the decoder joins' upsampled part through the runtime's phase weights and their
border rows and columns in float, the last join and the noise estimate in float. What it does not model: the
runtime's bfloat16 for the last join and the noise estimate where the CPU has it, and float rounding (the
runtime sums integers). Training against it trains what the runtime runs. :func:`simulated_estimator` is the same
for the illumination estimator's runtime (:mod:`lowface.models.int8_estimator`), used to calibrate its ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.models.fused import JOIN_EDGES, MirrorConv2d, _interleave_phases, _upsampling_weights, upsampled_join
from lowface.models.int8 import LEAKY_SLOPE, Grid, input_grid, pre_activation_grid, weight_scales
from lowface.models.int8_estimator import estimator_grids, estimator_source

LEVELS = 255  # uint8 activations: 0..255
Runtime = TypeVar("Runtime")


class Int8Aware:
    """What a network with int8 ``quantisers`` (None, or a ModuleDict of :class:`ActivationQuantiser`) shares, mixed
    in before ``nn.Module``: whether it rounds as it runs, whether it is calibrated, and its int8 runtime - built once
    for its weights, and left out of a copy or pickle (oneDNN's packed weights cannot be copied; it is rebuilt on first
    use: a served model, used and then copied for a job's denoising strength, copies)."""

    quantisers: nn.ModuleDict | None

    def quantising(self) -> bool:
        """Whether the network rounds its maps to 8 bits as it runs: training it with ``quantisers``, or calibrating
        them (in training mode while the rest is not)."""
        return self.quantisers is not None and (self.training or self.quantisers.training)

    def calibrated(self) -> bool:
        """Whether every quantiser has tracked a range: the int8 runtime can be built."""
        return self.quantisers is not None and all(int(q.batches) > 0 for q in self.quantisers.values())

    def cached_runtime(self, source: nn.Module, build: Callable[[], Runtime], *key: Hashable) -> Runtime:
        """``build()``, made again only after ``key`` or one of ``source``'s parameters and buffers changes."""
        state = (*key, *((t.data_ptr(), t._version) for t in [*source.parameters(), *source.buffers()]))
        cached = self.__dict__.get("_int8")
        if cached is None or cached[0] != state:
            cached = (state, build())
            self.__dict__["_int8"] = cached
        return cached[1]

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_int8", None)
        return state


class ActivationQuantiser(nn.Module):
    """(..) float map -> the same map rounded to 256 evenly spaced levels between its tracked ``low`` and ``high``
    (values outside clamped), gradients passed straight through inside the range.

    In training mode each batch's minimum and maximum move the range by ``momentum`` (the first batch sets it; None:
    the range is the mean of every batch's, as a calibration over a fixed set of images wants); in eval mode the range
    is fixed. ``low`` never exceeds 0 and ``high`` never falls below it, so that zero (the
    convolutions' zero padding, a leaky ReLU's fixed point) is exactly a level.
    """

    def __init__(self, momentum: float | None = 0.01):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("low", torch.zeros(()))
        self.register_buffer("high", torch.zeros(()))
        self.register_buffer("batches", torch.zeros((), dtype=torch.int64))

    def forward(self, x: Tensor) -> Tensor:
        self.observe(x)
        if int(self.batches) == 0:  # never calibrated: nothing to round to
            return x
        return fake_quantised(x, Grid.spanning(*self.span())).to(x.dtype)

    def observe(self, x: Tensor) -> None:
        """In training mode, move the range by ``x``'s minimum and maximum (see the class doc); else nothing."""
        if not self.training:
            return
        with torch.no_grad():
            low, high = x.detach().float().aminmax()
            seen = int(self.batches)
            share = 1.0 / (seen + 1) if self.momentum is None or seen == 0 else self.momentum
            self.low.lerp_(low.clamp_max(0.0), share)
            self.high.lerp_(high.clamp_min(0.0), share)
            self.batches += 1

    def span(self) -> tuple[float, float]:
        """The tracked range (low <= 0 <= high)."""
        return float(self.low), float(self.high)


def fake_quantised(x: Tensor, grid: Grid) -> Tensor:
    """``x`` rounded onto ``grid``'s 256 levels (saturated), gradients straight through inside it."""
    return torch.fake_quantize_per_tensor_affine(x.float(), grid.scale, grid.zero_point, 0, LEVELS)


def int8_weights(weight: Tensor) -> Tensor:
    """Weights rounded as the runtime packs them: int8, symmetric, one scale an output channel; gradients straight
    through."""
    scales = weight_scales(weight)
    zero_points = torch.zeros(len(scales), dtype=torch.int32, device=weight.device)
    return torch.fake_quantize_per_channel_affine(weight.float(), scales.to(weight.device), zero_points, 0, -127, 127)


def _convolved(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv`` on ``x`` with int8-rounded weights, its padding kept (a :class:`MirrorConv2d` mirrors, as the runtime's
    recomputed borders do)."""
    weight = int8_weights(conv.weight)
    if isinstance(conv, MirrorConv2d) and conv.padding != (0, 0):
        return conv._conv_forward(x, weight, conv.bias)
    return F.conv2d(x, weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)


def _activation(pre: Tensor, quantiser: ActivationQuantiser) -> Tensor:
    """A pre-activation through the runtime's rounding: onto the pre-activation grid, the leaky ReLU, onto the
    activation's grid (the quantiser's range, moved by the unrounded activation in training)."""
    quantiser.observe(F.leaky_relu(pre, LEAKY_SLOPE))
    low, high = quantiser.span()
    rounded = fake_quantised(pre, pre_activation_grid(low, high))
    return fake_quantised(F.leaky_relu(rounded, LEAKY_SLOPE), Grid.spanning(low, high))


def _joined(conv: nn.Conv2d, low: Tensor, skip: Tensor) -> Tensor:
    """A decoder step's pre-activation as the runtime computes it: the upsampled part as a convolution of ``low``
    with the bilinear taps folded into int8 weights (the runtime runs it as two, one an output row phase: the same
    sums), the skip part with its own int8 weights, and the outermost rows and columns again in float (the module
    itself)."""
    channels = low.shape[1]
    phases = F.conv2d(
        F.pad(low, (1, 1, 1, 1), mode="replicate"), int8_weights(_upsampling_weights(conv.weight[:, :channels]))
    )
    pre = _interleave_phases(phases) + F.conv2d(skip, int8_weights(conv.weight[:, channels:]), conv.bias, padding=1)
    for low_rows, low_cols, skip_rows, skip_cols, rows, cols in JOIN_EDGES:
        edge = conv(upsampled_join(low[..., low_rows, low_cols], skip[..., skip_rows, skip_cols]))
        pre[..., rows, cols] = edge[..., rows, cols]
    return pre


def simulated_unet(denoiser: nn.Module, folded: Tensor) -> Tensor:
    """A :class:`~lowface.models.restore_net.ReflectanceDenoiser`'s U-Net as :class:`lowface.models.int8.Int8UNet`
    computes it (see the module's doc), on the (B, 4 u^2, h, w) float folded view -> (B, 3 u^2, h, w); its
    ``quantisers`` track their ranges in training mode."""
    quantisers = denoiser.quantisers
    quantisers["input"].observe(folded)
    x = fake_quantised(folded, input_grid(*quantisers["input"].span()))

    def stage(blocks: nn.Sequential, name: str, x: Tensor) -> Tensor:
        for index, (conv, _activation_module) in enumerate(blocks):
            x = _activation(_convolved(conv, x), quantisers[f"{name}_{index}"])
        return x

    e1 = stage(denoiser.encode1, "encode1", x)
    e2 = stage(denoiser.encode2, "encode2", e1)
    bottom = stage(denoiser.bottom, "bottom", e2)
    d2 = _activation(_joined(denoiser.decode2[0], bottom, e2), quantisers["decode2_0"])
    pre = _joined(denoiser.decode1[0], d2, e1)
    quantisers["decode1_0"].observe(F.leaky_relu(pre, LEAKY_SLOPE))  # tracked, not used: this join stays float
    return denoiser.out(F.leaky_relu(pre, LEAKY_SLOPE))


def simulated_estimator(estimator: nn.Module, context: Tensor) -> Tensor:
    """An :class:`~lowface.models.enhance_net.IlluminationEstimator` as
    :class:`lowface.models.int8_estimator.Int8Estimator` computes it, in differentiable float ops: the (B, 3, h, w)
    context and each map a convolution writes rounded onto its grid (a concatenation's halves onto their shared one),
    weights int8 per output channel, the last convolution and the sigmoid in float -> (B, 3, h, w) residual
    illumination in [0, 1]; its ``quantisers`` track their ranges in training mode (each grid from the ranges as they
    stand when the map is made)."""
    quantisers = estimator.quantisers

    def rounded(name: str, x: Tensor) -> Tensor:
        quantisers[name].observe(x)
        spans = {key: quantiser.span() for key, quantiser in quantisers.items()}
        return fake_quantised(x, estimator_grids(spans)[name])

    maps = {"input": rounded("input", context.float())}
    for name, (conv, relu) in estimator.convolutions().items():
        out = F.conv2d(estimator_source(maps, name), int8_weights(conv.weight), conv.bias, padding=1)
        out = F.relu(out) if relu else out
        maps[name] = rounded(name, out) if name in quantisers else out
    return torch.sigmoid(maps["head4"])
