"""The restoring U-Net with int8 convolutions on a CPU (oneDNN), from the activation ranges its quantisers tracked.

Why: the U-Net is two thirds of ``lowface-restore-real``'s time (0.29 of 0.43 s a 1080p frame on one thread in
bfloat16), and oneDNN multiplies int8 about twice as fast as bfloat16 on a CPU with VNNI (a 3x3 convolution of 32
channels at 544 x 960 on a 2-core AMD EPYC: 23 ms int8, 43 ms bfloat16, 120 ms float32).

How: each map a convolution reads is uint8 on its own grid (value = scale (level - zero point), one grid per map:
the range an :class:`~lowface.models.int8_aware.ActivationQuantiser` tracked); weights are int8, one scale per output
channel. oneDNN's int8 convolution has no leaky-ReLU post-op, so a convolution writes its pre-activation on a grid
that reaches ``PRE_ACTIVATION_REACH`` times below the activation's tracked minimum, and a 256-entry table (one OpenCV
pass over the bytes) applies the leaky ReLU and moves the levels onto the activation's grid. The table clips the
rare strongly negative pre-activations (before the leaky ReLU's 0.1 slope): reach 10 clips nothing; chosen on SICE
val and CelebA val people against bfloat16 (benchmarks/results/int8/README.md): at 6 SICE is a little better on all
four figures and the faces level, at 2-3 SICE better and the faces 0.04-0.07 dB worse, at 10 both level.

A decoder step joins an upsampled map and a skip map: the upsampled part runs as convolutions of the low-resolution
map with the bilinear taps folded into their weights (:func:`lowface.models.fused._upsampling_weights`), added onto
the skip part's convolution in floating point (:class:`Int8Join`); the last convolution (the noise estimate) runs in
the float precision of the rest of the network. Mirror padding is kept exactly as in the float path: whole-map
convolutions, then the border rows and columns again from mirrored strips.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.models.fused import (
    FUSED_CONVOLUTION,
    JOIN_EDGES,
    MirrorConv2d,
    _mirrored_edges,
    _upsampling_weights,
    fused_convolution,
    upsampled_join,
)

QCONV = getattr(torch.ops.onednn, "qconv2d_pointwise", None)
QCONV_PREPACK = getattr(torch.ops.onednn, "qconv_prepack", None)
PRE_ACTIVATION_REACH = 6.0  # the pre-activation grid reaches this many times below the activation's minimum
LEAKY_SLOPE = 0.1


def int8_can_run(x: Tensor) -> bool:
    """Whether :class:`Int8UNet` can run on ``x``: a CPU tensor, a PyTorch with oneDNN's int8 convolutions."""
    return x.device.type == "cpu" and QCONV is not None and QCONV_PREPACK is not None and FUSED_CONVOLUTION is not None


@dataclass(frozen=True)
class Grid:
    """256 evenly spaced levels: value = ``scale`` * (level - ``zero_point``), level in 0..255."""

    scale: float
    zero_point: int

    @classmethod
    def spanning(cls, low: float, high: float) -> Grid:
        """The grid from ``low`` (<= 0) to ``high`` (>= 0), zero exactly a level."""
        scale = max((high - low) / 255.0, 1e-8)
        return cls(scale, int(min(max(round(-low / scale), 0), 255)))

    def values(self) -> Tensor:
        """(256,) float32: the value of each level."""
        return (torch.arange(256, dtype=torch.float32) - self.zero_point) * self.scale


def _planes(x: Tensor) -> np.ndarray:
    """A channels-last (B, C, H, W) tensor's memory as a (B H, W C) array (no copy: OpenCV writes into the tensor
    through it); any other layout is refused rather than silently copied."""
    batch, channels, height, width = x.shape
    if not x.is_contiguous(memory_format=torch.channels_last):
        raise ValueError(f"expected a channels-last map, got strides {x.stride()} for shape {tuple(x.shape)}")
    return x.permute(0, 2, 3, 1).numpy().reshape(batch * height, width * channels)


def _rows(x: Tensor) -> np.ndarray:
    """A contiguous or channels-last (B, C, H, W) tensor's memory as a two-dimensional array, no copy."""
    return x.numpy().reshape(-1, x.shape[-1]) if x.is_contiguous() else _planes(x)


def quantised(x: Tensor, grid: Grid, table: np.ndarray | None = None) -> Tensor:
    """float32 (B, C, H, W) -> uint8 levels on ``grid`` (rounded, saturated: one OpenCV pass), then ``table``
    applied to the levels where given; in ``x``'s layout where that is contiguous or channels-last (made
    channels-last otherwise)."""
    if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
        x = x.contiguous(memory_format=torch.channels_last)
    out = torch.empty_like(x, dtype=torch.uint8)  # (the same strides: empty_like keeps a dense tensor's layout)
    source, levels = _rows(x), _rows(out)
    cv2.addWeighted(source, 1.0 / grid.scale, source, 0.0, float(grid.zero_point), dst=levels, dtype=cv2.CV_8U)
    if table is not None:
        cv2.LUT(levels, table, dst=levels)
    return out


def input_grid(low: float, high: float) -> Grid:
    """The folded input's grid from its tracked range: a reflectance clamped to [0, 1] and a log gain normalised to at
    most 1, so never narrower than [0, 1]."""
    return Grid.spanning(min(low, 0.0), max(high, 1.0))


def weight_scales(weight: Tensor) -> Tensor:
    """(O, ...) weights -> (O,) float32 int8 scales, one an output channel (symmetric: level = round(w / scale) in
    -127..127)."""
    return (weight.detach().float().abs().amax(tuple(range(1, weight.dim()))) / 127.0).clamp_min(1e-12)


def pre_activation_grid(low: float, high: float) -> Grid:
    """The grid a convolution writes its pre-activation on, for an activation tracked between ``low`` and ``high``:
    ``PRE_ACTIVATION_REACH`` times further below zero (see the module's doc)."""
    return Grid.spanning(PRE_ACTIVATION_REACH * low, high)


def leaky_table(pre: Grid, post: Grid) -> np.ndarray:
    """(256,) uint8: a level of ``pre`` -> the level of ``post`` nearest to the leaky ReLU of its value."""
    values = F.leaky_relu(pre.values(), LEAKY_SLOPE)
    return torch.round(values / post.scale + post.zero_point).clamp(0, 255).to(torch.uint8).numpy()


class QuantisedConvolution:
    """One convolution with int8 weights (``weight``, default the module's; symmetric, one scale per output channel)
    reading uint8 maps on ``source``; writes uint8 levels on ``target`` or, with ``target`` None, floating point of
    ``out_dtype``. ``bias``: none unless given. ``padding``: default the module's (oneDNN pads with the source grid's
    zero point, value 0, as a float convolution pads; mirrored or recomputed borders replace what it touches).
    ``activation``: oneDNN's post-op, "none" or "relu" (applied before the output is rounded)."""

    def __init__(self, conv: nn.Conv2d, source: Grid, target: Grid | None = None, weight: Tensor | None = None,
                 bias: Tensor | None = None, out_dtype: torch.dtype = torch.float32,
                 padding: list[int] | None = None, activation: str = "none"):  # fmt: skip
        weight = (conv.weight if weight is None else weight).detach().float()
        self.scales = weight_scales(weight)
        levels = torch.round(weight / self.scales[:, None, None, None]).clamp(-127, 127).to(torch.int8)
        self.stride, self.dilation = list(conv.stride), list(conv.dilation)
        self.padding = list(conv.padding) if padding is None else padding
        self.packed = QCONV_PREPACK(levels, self.scales, source.scale, source.zero_point, self.stride, self.padding,
                                    self.dilation, 1, None)  # fmt: skip
        self.zero_points = torch.zeros(len(self.scales), dtype=torch.int64)
        self.bias = bias.detach().float() if bias is not None else None
        self.source, self.target, self.out_dtype, self.activation = source, target, out_dtype, activation

    def __call__(self, x: Tensor, padding: list[int] | None = None) -> Tensor:
        """uint8 channels-last (B, C, H, W) ``x`` -> the convolution's output, channels-last."""
        target = self.target
        scale, zero_point = (target.scale, target.zero_point) if target is not None else (1.0, 0)
        dtype = None if target is not None else self.out_dtype
        return QCONV(x, self.source.scale, self.source.zero_point, self.packed, self.scales, self.zero_points,
                     self.bias, self.stride, self.padding if padding is None else padding, self.dilation, 1, scale,
                     zero_point, dtype, self.activation, [], "")  # fmt: skip


class Int8Block:
    """A (convolution, leaky ReLU) block: uint8 on ``source`` in, uint8 on ``post`` out (see the module's doc)."""

    def __init__(self, conv: nn.Conv2d, source: Grid, post: Grid, low: float, high: float):
        pre = pre_activation_grid(low, high)
        self.conv = QuantisedConvolution(conv, source, pre, bias=conv.bias)
        self.mirror = isinstance(conv, MirrorConv2d)
        self.module, self.table = conv, leaky_table(pre, post)

    def __call__(self, x: Tensor) -> Tensor:
        mirrored = self.mirror and self.module.padding != (0, 0)
        out = _mirrored_edges(self.module, x, self.conv) if mirrored else self.conv(x)
        levels = _planes(out)
        cv2.LUT(levels, self.table, dst=levels)
        return out


class Int8Join:
    """A decoder step ``leaky(conv(cat([upsample(low), skip])))`` on uint8 ``low`` and ``skip``, in ``dtype``: the skip
    part as one convolution, the upsampled part as two convolutions of ``low`` (one an output row phase, its two
    column phases in its channels: each is the output's even or odd rows in memory) added onto the skip part's rows in
    place; the border rows and columns again the reference way (mirror padding included), from dequantised strips.
    Returns the pre-activation (float, channels-last): the caller applies the leaky ReLU (in place, or through a
    table). Why not oneDNN's sum post-op onto the interleaved phases: that op returns a copy of its accumulator, and
    the interleaving is a second copy (1080p, one thread, the first join: 47 -> 37 ms, the same values)."""

    def __init__(self, conv: nn.Conv2d, low: Grid, skip: Grid, low_channels: int, dtype: torch.dtype):
        self.module, self.low_grid, self.skip_grid = conv, low, skip
        phases = _upsampling_weights(conv.weight.detach()[:, :low_channels]).chunk(2)  # (row phase 0, row phase 1)
        self.upsampled = [QuantisedConvolution(conv, low, weight=weight, out_dtype=dtype, padding=[0, 0])
                          for weight in phases]  # fmt: skip
        self.skip = QuantisedConvolution(conv, skip, weight=conv.weight.detach()[:, low_channels:], bias=conv.bias,
                                         out_dtype=dtype)  # fmt: skip

    def __call__(self, low: Tensor, skip: Tensor) -> Tensor:
        padded = F.pad(low, (1, 1, 1, 1), mode="replicate")
        out = self.skip(skip)
        for phase, convolution in enumerate(self.upsampled):
            _add_rows(out, phase, convolution(padded))
        for low_rows, low_cols, skip_rows, skip_cols, rows, cols in JOIN_EDGES:
            joined = upsampled_join(dequantised(low[..., low_rows, low_cols], self.low_grid),
                                    dequantised(skip[..., skip_rows, skip_cols], self.skip_grid))  # fmt: skip
            out[..., rows, cols] = fused_convolution(self.module, joined)[..., rows, cols].to(out.dtype)
        return out


def _add_rows(out: Tensor, phase: int, rows: Tensor) -> Tensor:
    """``out`` (B, O, 2 h, 2 w) channels-last += ``rows`` (B, 2 O, h, w) channels-last, channels (column phase,
    channel), on out's rows ``phase``::2, in place: the two maps' bytes as (B, h, 2 w O) rows, no interleaving copy."""
    batch, channels, height, width = out.shape
    rows_of_out = out.permute(0, 2, 3, 1).view(batch, height // 2, 2, width * channels)[:, :, phase]
    return rows_of_out.add_(rows.permute(0, 2, 3, 1).reshape(batch, height // 2, width * channels))


def dequantised(x: Tensor, grid: Grid) -> Tensor:
    """uint8 levels -> float32 values on ``grid``."""
    return (x.float() - grid.zero_point) * grid.scale


class Int8UNet:
    """A :class:`~lowface.models.restore_net.ReflectanceDenoiser`'s U-Net in int8, built from its calibrated
    ``quantisers`` (see the module's doc): (B, 4 u^2, h, w) folded view, in uint8 levels -> (B, 3 u^2, h, w) noise
    estimate in ``dtype`` (bfloat16 where the CPU multiplies it natively, else float32). Weights are packed once,
    here."""

    def __init__(self, denoiser: nn.Module, dtype: torch.dtype = torch.float32):
        ranges = {name: (float(q.low), float(q.high)) for name, q in denoiser.quantisers.items()}
        grids = {name: Grid.spanning(*span) for name, span in ranges.items()}
        grids["input"] = input_grid(*ranges["input"])
        self.input_grid, self.out = grids["input"], denoiser.out

        def stage(blocks: nn.Sequential, name: str, source: str) -> tuple[list[Int8Block], str]:
            made = []
            for index, (conv, _activation) in enumerate(blocks):
                key = f"{name}_{index}"
                made.append(Int8Block(conv, grids[source], grids[key], *ranges[key]))
                source = key
            return made, source

        self.encode1, e1 = stage(denoiser.encode1, "encode1", "input")
        self.encode2, e2 = stage(denoiser.encode2, "encode2", e1)
        self.bottom, b = stage(denoiser.bottom, "bottom", e2)
        # the first join's output is read as uint8 by the second: float32 (what OpenCV quantises), then a table
        self.join2 = Int8Join(denoiser.decode2[0], grids[b], grids[e2], denoiser.widths[2], torch.float32)
        self.join2_pre = pre_activation_grid(*ranges["decode2_0"])
        self.join2_table = leaky_table(self.join2_pre, grids["decode2_0"])
        self.join1 = Int8Join(denoiser.decode1[0], grids["decode2_0"], grids[e1], denoiser.widths[1], dtype)

    def input_levels(self, x: Tensor) -> Tensor:
        """A float32 (B, C, H, W) map the U-Net's folded input is made of (the reflectance, the log gain) -> its
        uint8 levels on the input's grid, same layout: quantised before it is folded, so that the fold scatters a
        quarter of the bytes (1080p, one thread: fold and quantisation 20 -> 9 ms)."""
        return quantised(x.float(), self.input_grid)

    def __call__(self, folded: Tensor) -> Tensor:
        """(B, 4 u^2, h, w) uint8 folded input on the input's grid (:meth:`input_levels`, then folded),
        channels-last -> (B, 3 u^2, h, w) noise estimate."""
        x = folded
        for block in self.encode1:
            x = block(x)
        e1 = x
        for block in self.encode2:
            x = block(x)
        e2 = x
        for block in self.bottom:
            x = block(x)
        d2 = quantised(self.join2(x, e2), self.join2_pre, self.join2_table)
        d1 = F.leaky_relu_(self.join1(d2, e1), LEAKY_SLOPE)
        return fused_convolution(self.out, d1)
