"""A Retinex enhancer that also removes noise: the fast illumination estimator plus a reflectance denoiser
conditioned on the illumination (issue: noisy dark faces).

R = S / I amplifies sensor noise by 1 / I, most where the scene was darkest. The denoiser sees the raw
reflectance and the log of that gain, so it knows where the noise is strong, and predicts a residual to
subtract. It works on a 2x space-to-depth view with a three-level U-Net, which keeps it cheap enough for
1080p video; its last layer starts at zero, so an untrained denoiser leaves the enhancer's output unchanged.

The subtracted residual is high-pass (its Gaussian blur of ``detail_sigma`` pixels removed): noise has no
local mean, and a denoiser allowed one had learned to do the brightening itself (v3: an illumination map of
1 everywhere - the smoothness term's optimum - and a U-Net output that, with a receptive field of 60 pixels,
painted dark blocks around every light source of a night scene). With the high-pass, brightness at scales
above a few pixels can only come from the illumination path.

The module runs past 300 lines because the pointwise tone head and the band-by-band inference path (the training
graph's values at a fraction of its memory) live beside the network they serve.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.filters import area_downsample, gaussian_blur, log_, luma, plain_inference, row_bands, upsample_bilinear
from lowface.models.base import EnhancementModel
from lowface.models.enhance_net import FastEnhanceNet, Retinex, clamp_passing_gradient
from lowface.models.fused import (
    MirrorConv2d,
    fused_convolution,
    fused_convolutions_can_run,
    fused_upsampled_join,
    upsampled_join,
)
from lowface.models.int8 import Int8UNet, int8_can_run
from lowface.models.int8_aware import ActivationQuantiser, Int8Aware, simulated_unet
from lowface.models.precision import int8_convolutions, reduced_dtype, reduced_precision
from lowface.registry import MODELS

GAIN_NORMALISER = 4.0 * 2.302585  # log(1e4): the largest gain 1 / I can reach


def space_to_depth(parts: list[Tensor], factor: int, multiple: int, dtype: torch.dtype | None = None,
                   channels_last: bool = False) -> Tensor:  # fmt: skip
    """``F.pixel_unshuffle`` of the channel concatenation of ``parts`` (each (B, C_i, H, W)), replicate-padded to
    multiples of ``multiple`` (itself a multiple of ``factor``): (B, sum(C_i) * factor**2, H_p / factor, W_p /
    factor), the same values, in ``dtype`` (default: the parts') and, with ``channels_last``, in that memory format
    (oneDNN's). Every input pixel is copied once, straight to its place, one sampling phase at a time (three times
    faster than one six-dimensional copy): the concatenation, the padded image, pixel_unshuffle's own pass and a
    conversion after it are never made; only the strips past the last whole block are padded, and they are small. A
    part of another dtype is converted first, as it lies (a contiguous pass; in the scattered copies the conversion
    cost a third more: 1080p, float32 into bfloat16 channels-last, one thread, 14 -> 9.5 ms)."""
    dtype = dtype or parts[0].dtype
    parts = [part.to(dtype) for part in parts]
    batch, _, height, width = parts[0].shape
    blocks_h, blocks_w = -(-height // multiple) * multiple // factor, -(-width // multiple) * multiple // factor
    whole_h, whole_w = height // factor, width // factor
    channels = sum(part.shape[1] for part in parts)
    pairs = None  # bytes in channels-last: a pixel's two column phases are neighbours in memory on both sides
    if channels_last:
        out = parts[0].new_empty(batch, blocks_h, blocks_w, channels, factor, factor, dtype=dtype)
        grid = out.permute(0, 3, 4, 5, 1, 2)  # (B, C, factor, factor, h, w), as below
        folded = out.view(batch, blocks_h, blocks_w, -1).permute(0, 3, 1, 2)
        if factor == 2 and dtype.itemsize == 1:  # (B, C, row phase, h, w) of 16-bit pairs
            pairs = out.view(torch.int16).squeeze(-1).permute(0, 3, 4, 1, 2)
    else:
        folded = parts[0].new_empty(batch, channels * factor * factor, blocks_h, blocks_w, dtype=dtype)
        grid = folded.view(batch, channels, factor, factor, blocks_h, blocks_w)

    def place(source: Tensor, rows: slice, cols: slice, channel: int) -> None:
        if pairs is not None and _pairs_viewable(source):  # both column phases in one 16-bit copy: 6.7 -> 2.7 ms
            for i in range(factor):  # (the uint8 fold of a 1080p frame, one thread)
                pairs[:, channel : channel + source.shape[1], i, rows, cols] = source.view(torch.int16)[..., i::2, :]
            return
        for i in range(factor):
            for j in range(factor):
                grid[:, channel : channel + source.shape[1], i, j, rows, cols] = source[..., i::factor, j::factor]

    channel = 0
    for part in parts:
        place(part[..., : whole_h * factor, : whole_w * factor], slice(0, whole_h), slice(0, whole_w), channel)
        if whole_h < blocks_h:  # the bottom strip, all columns (its right end padded too)
            strip = part[..., min(whole_h * factor, height - 1) :, :]  # past the last row: replicas of it
            padding = (0, blocks_w * factor - width, 0, (blocks_h - whole_h) * factor - strip.shape[-2])
            place(F.pad(strip, padding, mode="replicate"), slice(whole_h, None), slice(None), channel)
        if whole_w < blocks_w:  # the right strip above it
            strip = part[..., : whole_h * factor, min(whole_w * factor, width - 1) :]
            padding = (0, (blocks_w - whole_w) * factor - strip.shape[-1], 0, 0)
            place(F.pad(strip, padding, mode="replicate"), slice(0, whole_h), slice(whole_w, None), channel)
        channel += part.shape[1]
    return folded


def _pairs_viewable(x: Tensor) -> bool:
    """Whether a one-byte (B, C, H, W) tensor can be read as 16-bit pairs of neighbouring columns (W even, rows
    contiguous, every row starting on an even byte)."""
    return (
        x.shape[-1] % 2 == 0
        and x.stride(-1) == 1
        and x.storage_offset() % 2 == 0
        and all(stride % 2 == 0 for stride in x.stride()[:-1])
    )


def depth_to_space(x: Tensor, factor: int, height: int, width: int, dtype: torch.dtype | None = None) -> Tensor:
    """``F.pixel_shuffle(x, factor)[..., :height, :width]`` (x: (B, C * factor**2, h, w)) in ``dtype`` (default:
    ``x``'s), one copy per sampling phase, from either memory format (a convolution's channels-last output is read
    as it lies, not converted first)."""
    batch, channels, rows, cols = x.shape
    channels //= factor * factor
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        blocks = x.permute(0, 2, 3, 1).view(batch, rows, cols, channels, factor, factor).permute(0, 3, 4, 5, 1, 2)
    else:
        blocks = x.view(batch, channels, factor, factor, rows, cols)
    out = x.new_empty(batch, channels, rows * factor, cols * factor, dtype=dtype or x.dtype)
    for i in range(factor):
        for j in range(factor):
            out[..., i::factor, j::factor] = blocks[:, :, i, j]
    return out[..., :height, :width]


def _plain_blocks(blocks: Iterable[nn.Sequential], x: Tensor) -> Tensor:
    """``blocks`` (each a Conv2d and its LeakyReLU) applied in turn to (B, C, h, w) ``x``."""
    for block in blocks:
        x = block(x)
    return x


def _fused_blocks(blocks: Iterable[nn.Sequential], x: Tensor) -> Tensor:
    """:func:`_plain_blocks` with each (Conv2d, LeakyReLU) block as one oneDNN kernel (:mod:`lowface.models.fused`),
    in ``x``'s dtype (float32, or bfloat16 under reduced precision)."""
    for conv, activation in blocks:
        x = fused_convolution(conv, x, activation)
    return x


def _block(cin: int, cout: int, stride: int = 1, conv: type[nn.Conv2d] = nn.Conv2d) -> nn.Sequential:
    return nn.Sequential(conv(cin, cout, 3, stride=stride, padding=1), nn.LeakyReLU(0.1))


def level_widths(width: int | Sequence[int]) -> tuple[int, int, int, int]:
    """The denoiser's channels at its three levels and in its last decoder step: ``width`` w -> (w, 1.5 w, 2 w, w),
    three widths (w1, w2, w3) -> (w1, w2, w3, w1), or the four widths given (the fourth: the first level's decoder
    step, which may be narrower than its encoder)."""
    widths = (width, width * 3 // 2, width * 2) if isinstance(width, int) else tuple(int(w) for w in width)
    if len(widths) not in (3, 4) or min(widths) < 1:
        raise ValueError(f"the denoiser's width is one positive number, three (one a level) or four (and the last "
                         f"decoder step's), got {width}")  # fmt: skip
    return widths if len(widths) == 4 else (*widths, widths[0])  # type: ignore[return-value]


class ReflectanceDenoiser(Int8Aware, nn.Module):
    """(B, 3, H, W) reflectance + (B, 1, H, W) normalised log-gain -> (B, 3, H, W) noise estimate.

    The input is folded ``unshuffle`` x ``unshuffle`` into channels (space-to-depth, lossless), then three levels at
    1/u, 1/2u and 1/4u resolution (``width``, 1.5x, 2x channels, or the three widths ``width`` lists - the first level,
    at the highest resolution, is most of the cost; a fourth: the width of the last decoder step, at the first level's
    resolution, where it is otherwise the first level's - its join is the costliest step); H and W are padded to
    multiples of 4u (replicate) and cropped back. ``unshuffle`` 4 costs about a third of 2 at the same width. In plain
    inference the U-Net runs in the precision that :func:`lowface.models.precision.conv_precision` sets (``auto``:
    int8 on x86 CPUs without AMX, bfloat16 where AMX or a GPU multiplies it).
    ``mirror_edges``: every convolution pads its input with a mirror of it (:class:`lowface.models.fused.MirrorConv2d`)
    instead of zeros, which the U-Net read as a black frame (False: zeros, as trained until 2026-12-05).
    ``int8_aware``: an :class:`lowface.models.int8_aware.ActivationQuantiser` for every map a convolution reads (the
    folded input and each block's output; ``quantisers``, keyed by the block). In training, or while the quantisers
    alone are in training mode (calibration), the U-Net runs as the int8 runtime computes it, in float ops that
    round where it rounds (:func:`lowface.models.int8_aware.simulated_unet`: quantisation-aware training; the ranges
    are tracked); in plain inference the ranges are what
    ``conv_precision(torch.int8)`` builds :class:`lowface.models.int8.Int8UNet` from, and other precisions ignore
    them. :meth:`use_int8_weights` gives the int8 runtime weights of its own (trained through the simulation), which
    it runs on instead of the float path's.
    """

    USES_REDUCED_PRECISION = True  # the U-Net, under conv_precision (lowface.models.precision)
    QUANTISED_MAPS = ("input", "encode1_0", "encode1_1", "encode2_0", "encode2_1", "bottom_0", "bottom_1", "bottom_2",
                      "decode2_0", "decode1_0")  # fmt: skip

    def __init__(self, width: int | Sequence[int] = 32, unshuffle: int = 2, mirror_edges: bool = False,
                 int8_aware: bool = False):  # fmt: skip
        super().__init__()
        self.unshuffle, self.mirror_edges = unshuffle, mirror_edges
        self.multiple = 4 * unshuffle
        # Convs at 1/u (x4), 1/2u (x3), 1/4u (x3) resolution plus two bilinear taps, in full-resolution pixels.
        self.receptive_radius = unshuffle * (4 + 3 * 2 + 3 * 4 + 4 + 2 + 4)
        w1, w2, w3, head = self.widths = level_widths(width)
        conv = MirrorConv2d if mirror_edges else nn.Conv2d
        block = partial(_block, conv=conv)
        self.encode1 = nn.Sequential(block(4 * unshuffle**2, w1), block(w1, w1))
        self.encode2 = nn.Sequential(block(w1, w2, stride=2), block(w2, w2))
        self.bottom = nn.Sequential(block(w2, w3, stride=2), block(w3, w3), block(w3, w3))
        self.decode2 = block(w3 + w2, w2)
        self.decode1 = block(w2 + w1, head)
        self.out = conv(head, 3 * unshuffle**2, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        quantisers = {name: ActivationQuantiser() for name in self.QUANTISED_MAPS}
        self.quantisers = nn.ModuleDict(quantisers) if int8_aware else None

    def forward(self, reflectance: Tensor, log_gain: Tensor) -> Tensor:
        height, width = reflectance.shape[-2:]
        fast = plain_inference() and not self.quantising()
        if fast and int8_convolutions() and self.int8_source().calibrated() and int8_can_run(reflectance):
            unet = self.int8_unet()
            levels = [unet.input_levels(part) for part in (reflectance, log_gain)]
            folded = space_to_depth(levels, self.unshuffle, self.multiple, channels_last=True)
            return depth_to_space(unet(folded), self.unshuffle, height, width, reflectance.dtype)
        if fast:
            # on a CPU folded straight into oneDNN's native layout (5-8 % faster, same values) and the convolutions'
            # precision
            on_cpu = reflectance.device.type == "cpu"
            folded = space_to_depth([reflectance, log_gain], self.unshuffle, self.multiple,
                                    reduced_dtype() if on_cpu else None, channels_last=on_cpu)  # fmt: skip
        else:  # the reference ops, in shape arithmetic that a traced graph keeps for every input size
            pad_h = (self.multiple - height % self.multiple) % self.multiple
            pad_w = (self.multiple - width % self.multiple) % self.multiple
            padded = F.pad(torch.cat([reflectance, log_gain], 1), (0, pad_w, 0, pad_h), mode="replicate")
            folded = F.pixel_unshuffle(padded, self.unshuffle)
        if fast:
            with reduced_precision(folded.device):
                noise = self.unet(folded)
            return depth_to_space(noise, self.unshuffle, height, width, reflectance.dtype)
        return F.pixel_shuffle(self.unet(folded), self.unshuffle)[..., :height, :width]

    def unet(self, folded: Tensor) -> Tensor:
        """The U-Net on the folded view: (B, 4 u^2, h, w) -> (B, 3 u^2, h, w), h and w multiples of 4."""
        if self.quantising():
            return self._int8_aware_unet(folded)
        fused = fused_convolutions_can_run(folded)
        blocks = _fused_blocks if fused else _plain_blocks
        e1 = blocks(self.encode1, folded)
        e2 = blocks(self.encode2, e1)
        b = blocks(self.bottom, e2)
        d2 = blocks([self.decode2], upsampled_join(b, e2))
        # the last join without its upsampled map and concatenation where it can: the same values, 102 -> 70 ms at
        # 1080p with the teacher's widths, 9.2 -> 8.0 with the student's (the smaller second join: no gain, or a loss)
        d1 = fused_upsampled_join(*self.decode1, d2, e1) if fused else blocks([self.decode1], upsampled_join(d2, e1))
        return fused_convolution(self.out, d1) if fused else self.out(d1)  # (zero-padded: the module's values exactly)

    def use_int8_weights(self, state: dict[str, Tensor]) -> None:
        """Run the int8 runtime on ``state`` (a state dict of this denoiser, ranges included: weights trained through
        :func:`lowface.models.int8_aware.simulated_unet` to give the float path's output in int8) instead of on this
        denoiser's own; every other precision, and training, keep using its own. The copy that holds them is not a
        submodule: ``state_dict()`` and the optimiser see this denoiser's weights alone."""
        holder = copy.deepcopy(self)
        holder.__dict__.pop("_int8_weights", None)
        holder.load_state_dict(state)
        self.__dict__["_int8_weights"] = holder.eval().requires_grad_(False)

    def int8_source(self) -> ReflectanceDenoiser:
        """The denoiser whose weights and ranges the int8 runtime runs on: this one, or what :meth:`use_int8_weights`
        gave."""
        return self.__dict__.get("_int8_weights", self)

    def int8_unet(self) -> Int8UNet:
        """The U-Net with int8 convolutions (:class:`lowface.models.int8.Int8UNet`) on :meth:`int8_source`'s weights,
        built once for those weights, ranges and float precision of the rest (again after any of them changes)."""
        dtype = reduced_dtype() or torch.float32
        source = self.int8_source()
        return self.cached_runtime(source, lambda: Int8UNet(source, dtype), dtype)

    def _int8_aware_unet(self, folded: Tensor) -> Tensor:
        """:meth:`unet` as the int8 runtime computes it, in differentiable float ops
        (:func:`lowface.models.int8_aware.simulated_unet`)."""
        return simulated_unet(self, folded)


class PointwiseTone(nn.Module):
    """(B, 3, H, W) reflectance + (B, 1, H, W) normalised log-gain [+ (B, 1, H, W) noise level] -> (B, 3, H, W)
    additive correction, pixel by pixel.

    1x1 convolutions only (no spatial support: it cannot draw a halo, and tiling needs no margin for it), last layer
    zero-initialised. What a gain (the illumination) and a high-passed denoiser cannot do: take back the black level
    that clipped sensor noise leaves after brightening (more where the gain is higher), and the colour and contrast
    of the tone curve. ``noise_input``: a third input, the local level of the noise the denoiser removed
    (:meth:`RestoreNet.noise_level`), through its own zero-initialised weights - so that the head can lift the black
    level where noise clipped it and leave a clean scene's blacks alone; a head trained without it loads unchanged.
    ``lift_cap`` k, ``lift_margin`` m: the correction may raise a pixel by at most k times its value plus m (it may
    always lower it), so that black stays (nearly) black - trained on SICE's under-exposed frames, where crushed
    shadows hide real content, an unbounded head paints their average colour (olive grey) into every black region of
    a night scene; None: unbounded. ``chroma_share`` s: each pixel's correction c becomes y + s (c - y), y its BT.601
    luma on all three channels - 1 as trained; 0 an achromatic head, which may lift and shape the tone but adds no
    colour of its own (the shipped head adds the same warm tint to every image, a skin prior from its face training).
    """

    def __init__(
        self,
        width: int = 16,
        noise_input: bool = False,
        lift_cap: float | None = None,
        lift_margin: float = 0.0,
        chroma_share: float = 1.0,
    ):
        super().__init__()
        if lift_cap is not None and lift_cap < 0:
            raise ValueError(f"lift_cap must be >= 0 (how many times its value a pixel may be raised), got {lift_cap}")
        if lift_margin and lift_cap is None:
            raise ValueError(f"lift_margin {lift_margin} bounds nothing without a lift_cap")
        self.lift_cap, self.lift_margin, self.chroma_share = lift_cap, lift_margin, float(chroma_share)
        self.layers = nn.Sequential(
            nn.Conv2d(4, width, 1), nn.LeakyReLU(0.1), nn.Conv2d(width, width, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(width, 3, 1),
        )  # fmt: skip
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.zeros_(self.layers[-1].bias)
        self.noise_in = nn.Conv2d(1, width, 1, bias=False) if noise_input else None
        if self.noise_in is not None:
            nn.init.zeros_(self.noise_in.weight)

    def forward(self, reflectance: Tensor, log_gain: Tensor, noise_level: Tensor | None = None,
                margin_share: Tensor | None = None) -> Tensor:  # fmt: skip
        hidden = self.layers[0](torch.cat([reflectance, log_gain], 1))
        if self.noise_in is not None:
            hidden = hidden + self.noise_in(noise_level)
        return self.bounded(self.layers[1:](hidden), reflectance, margin_share)

    def bounded(self, correction: Tensor, reflectance: Tensor, margin_share: Tensor | None = None,
                out: Tensor | None = None) -> Tensor:  # fmt: skip
        """The correction (3 channels on axis -3) with ``chroma_share`` of its colour part kept and its rise capped at
        ``lift_cap`` times the (non-negative) reflectance it is added to, plus ``lift_margin`` (times
        ``margin_share``, (..., 1, H, W) in [0, 1], where given); in plain inference written into ``out`` (a buffer
        of the correction's shape) where given."""
        if self.chroma_share != 1.0:
            grey = luma(correction)
            correction = grey + self.chroma_share * (correction - grey)
        if self.lift_cap is None:
            return correction
        if plain_inference():  # the same values, one temporary (or none) instead of three
            bound = reflectance.clamp_min(0.0) if out is None else torch.clamp_min(reflectance, 0.0, out=out)
            if self.lift_cap != 1.0:
                bound.mul_(self.lift_cap)
            if margin_share is None:
                bound.add_(self.lift_margin)
            else:
                bound.add_(margin_share, alpha=self.lift_margin)
            return torch.minimum(correction, bound, out=bound)
        margin = self.lift_margin if margin_share is None else self.lift_margin * margin_share
        return torch.minimum(correction, reflectance.clamp_min(0.0) * self.lift_cap + margin)

    def band_weights(self) -> tuple[Tensor, Tensor, Tensor]:
        """The three 1x1 convolutions as matrices with their biases as a last column, for :meth:`correct_`: (width,
        4 [+ 1] + 1), (width, width + 1), (3, width + 1)."""
        first, middle, last = self.layers[0], self.layers[2], self.layers[4]
        input_weights = [
            first.weight.flatten(1),
            *([self.noise_in.weight.flatten(1)] if self.noise_in is not None else []),
        ]
        return (
            torch.cat([*input_weights, first.bias[:, None]], 1),
            torch.cat([middle.weight.flatten(1), middle.bias[:, None]], 1),
            torch.cat([last.weight.flatten(1), last.bias[:, None]], 1),
        )

    def band_workspace(self, pixels: int, like: Tensor) -> ToneWorkspace:
        """:meth:`band_weights` and the buffers that :meth:`correct_` reuses for every band of up to ``pixels``
        pixels, in ``like``'s dtype and device."""
        weights = self.band_weights()
        inputs = like.new_empty(weights[0].shape[1], pixels)
        hidden = like.new_empty(2, weights[1].shape[1], pixels)
        inputs[-1], hidden[:, -1] = 1.0, 1.0
        return ToneWorkspace(weights, inputs, hidden, like.new_empty(2, 3, pixels))

    def correct_(self, image: Tensor, log_gain: Tensor, noise_level: Tensor | None = None,
                 margin_share: Tensor | None = None, workspace: ToneWorkspace | None = None) -> Tensor:  # fmt: skip
        """``image += forward(image, log_gain, noise_level, margin_share)`` in place, for one image's band of whole
        rows in plain inference ((3, h, w), (1, h, w) each): the same values without the full-frame hidden maps. Each
        1x1 convolution is one matrix product over the band's pixels (oneDNN's small-convolution path took twice as
        long), its bias a column of the weights against a row of ones (a broadcast bias is first copied into every
        output column: a fifth of the time); the inputs, hidden maps, correction and bound live in ``workspace``
        (:meth:`band_workspace`, made once for all the bands of a frame) and the leaky ReLUs run in place."""
        pixels = image[0].numel()
        work = workspace if workspace is not None else self.band_workspace(pixels, image)
        weights_in, weights_mid, weights_out = work.weights
        inputs, hidden = work.inputs[:, :pixels], work.hidden[..., :pixels]  # (a shorter last band: a prefix)
        row = 0
        for part in [image, log_gain] if noise_level is None else [image, log_gain, noise_level]:
            inputs[row : row + len(part)] = part.view(len(part), pixels)  # (whole rows: a channel is one run)
            row += len(part)
        F.leaky_relu_(torch.mm(weights_in, inputs, out=hidden[0, :-1]), 0.1)
        F.leaky_relu_(torch.mm(weights_mid, hidden[0], out=hidden[1, :-1]), 0.1)
        correction, bound = work.scratch[..., :pixels].unflatten(-1, image.shape[-2:])
        torch.mm(weights_out, hidden[1], out=correction.view(3, pixels))
        return image.add_(self.bounded(correction, image, margin_share, out=bound))


@dataclass(frozen=True)
class ToneWorkspace:
    """What :meth:`PointwiseTone.correct_` reuses band after band: the :meth:`~PointwiseTone.band_weights`, (inputs
    + 1, pixels) inputs and (2, width + 1, pixels) hidden maps whose last rows are ones, and (2, 3, pixels) room for
    the correction and its bound."""

    weights: tuple[Tensor, Tensor, Tensor]
    inputs: Tensor
    hidden: Tensor
    scratch: Tensor


@MODELS.register("restore_net")
class RestoreNet(EnhancementModel):
    """:class:`FastEnhanceNet` followed by :class:`ReflectanceDenoiser`: R = clamp(S / I - noise(S / I, gain)),
    the noise high-passed at ``detail_sigma`` pixels (None: as predicted, the v1-v3 design; ``detail_pooled``: the
    local mean taken on ``unshuffle``-pixel blocks, cheaper), then (``tone_width``
    set) a :class:`PointwiseTone` correction of each pixel from its value and gain (``tone_noise``: and the local
    level of the removed noise, :meth:`noise_level`). ``context_clip``: see :class:`FastEnhanceNet` (what keeps a
    lamp from darkening its surroundings; ``context_sigma``: the reach of its local mean; ``surround_clip``: the same
    for a lamp larger than that reach); ``illumination_power``,
    ``illumination_pivot``: see there too (how much of the darkness below the pivot is divided out);
    ``illumination_chroma``: see there (how much of the illumination's colour is divided out). ``tone_lift_cap``,
    ``tone_lift_margin``: see :class:`PointwiseTone` (black stays black); ``tone_chroma``: its ``chroma_share``
    (the head's own colour). ``detail_guide_eps`` (None: a plain Gaussian local mean, the design until 2026-12-02):
    the residual's local mean follows the base reflectance's edges (:meth:`_guided_local_mean`), so that a floodlit
    building's residual is not spread into the dark sky round it as a glow.

    ``denoiser_mirror``: the denoiser's ``mirror_edges`` (its convolutions pad with a mirror of their input, not zeros).
    ``denoiser_int8_aware``: the denoiser's ``int8_aware`` (8-bit activations simulated, for quantisation-aware
    training); ``estimator_int8_aware``: the illumination estimator's
    (:class:`lowface.models.enhance_net.IlluminationEstimator`).
    ``denoise_strength`` in [0, 1]: the share of the predicted (high-passed) noise that is subtracted - below 1 some
    of the finest grain stays, the rest of the output is unchanged (the tone head still sees the whole noise level);
    :func:`set_denoise_strength` sets it on a built model.
    ``denoiser_width``: see :class:`ReflectanceDenoiser` (one width, one a level, or also the last decoder step's); 0:
    no denoiser - the enhancer and the tone head alone, R = clamp(S / I + tone(S / I, gain)), for images with little
    noise (``lowface-fast-tone``: a learnt tone curve after ``lowface-fast``'s gain); needs ``detail_sigma`` None and a
    tone head.

    Tiling is exact with a halo of ``receptive_radius`` when tiles start on multiples of ``size_multiple``.
    """

    def __init__(
        self,
        scale: int = 4,
        width: int = 32,
        denoiser_width: int | Sequence[int] = 32,
        detail_sigma: float | None = 4.0,
        guide: str = "log",
        unshuffle: int = 2,
        tone_width: int | None = None,
        detail_pooled: bool = False,
        context_clip: float | None = None,
        tone_noise: bool = False,
        illumination_power: float | None = None,
        illumination_pivot: float = 1.0,
        tone_lift_cap: float | None = None,
        tone_lift_margin: float = 0.0,
        detail_guide_eps: float | None = None,
        tone_chroma: float = 1.0,
        illumination_chroma: float = 1.0,
        tone_margin_context: float | None = None,
        tone_margin_reach: float = 16.0,
        context_sigma: float = 12.0,
        denoiser_mirror: bool = False,
        denoiser_int8_aware: bool = False,
        denoise_strength: float = 1.0,
        surround_clip: float | None = None,
        estimator_int8_aware: bool = False,
    ):
        super().__init__()
        if not 0.0 <= denoise_strength <= 1.0:
            raise ValueError(f"denoise_strength is the share of the noise removed, in [0, 1], got {denoise_strength}")
        if tone_margin_context is not None and not (tone_width and tone_lift_margin):
            raise ValueError("tone_margin_context scales the tone head's lift margin: it needs tone_width and "
                             f"tone_lift_margin, got {tone_width} and {tone_lift_margin}")  # fmt: skip
        if detail_guide_eps is not None and not detail_sigma:
            raise ValueError("detail_guide_eps shapes the residual's local mean: it needs detail_sigma")
        if tone_noise and not (tone_width and detail_sigma):
            raise ValueError("tone_noise needs a tone head (tone_width) and a high-passed residual (detail_sigma)")
        if not denoiser_width and (detail_sigma or not tone_width):
            raise ValueError("denoiser_width 0 (no denoiser) needs detail_sigma None and a tone head (tone_width), "
                             f"got detail_sigma {detail_sigma}, tone_width {tone_width}")  # fmt: skip
        self.enhancer = FastEnhanceNet(
            scale,
            width,
            guide=guide,
            context_clip=context_clip,
            context_sigma=context_sigma,
            illumination_power=illumination_power,
            illumination_pivot=illumination_pivot,
            illumination_chroma=illumination_chroma,
            surround_clip=surround_clip,
            estimator_int8_aware=estimator_int8_aware,
        )
        self.denoiser = (ReflectanceDenoiser(denoiser_width, unshuffle, denoiser_mirror, denoiser_int8_aware)
                         if denoiser_width else None)  # fmt: skip
        self.tone = (PointwiseTone(tone_width, tone_noise, tone_lift_cap, tone_lift_margin, tone_chroma)
                     if tone_width else None)  # fmt: skip
        self.tone_noise = tone_noise
        self.denoise_strength = denoise_strength
        self.detail_sigma = detail_sigma
        self.detail_pool = unshuffle if detail_pooled else 1
        self.detail_guide_eps = detail_guide_eps
        self.tone_margin_context, self.tone_margin_reach = tone_margin_context, tone_margin_reach
        if detail_guide_eps is not None:  # the moments' blur on GUIDE_POOL blocks, the pooling and the upsampling
            blur_radius = math.ceil(3 * detail_sigma) + 3 * max(self.detail_pool, self.GUIDE_POOL)
        else:
            blur_radius = math.ceil(3 * detail_sigma) + 2 * self.detail_pool if detail_sigma else 0
        level_radius = self.NOISE_LEVEL_RADIUS if tone_noise else 0
        denoiser_radius = self.denoiser.receptive_radius if self.denoiser is not None else 0
        context_radius = 0
        if tone_margin_context is not None:  # the blur of the block means, the blocks and the upsampling
            context_radius = math.ceil(3 * tone_margin_reach) + 2 * self.GUIDE_POOL
        # what the stages after the enhancer add to its radius and its multiple
        self.tail_radius = max(denoiser_radius + blur_radius + level_radius, context_radius)
        self.tail_multiple = math.lcm(
            self.denoiser.multiple if self.denoiser is not None else 1,
            self.NOISE_POOL if tone_noise else 1,
            self.GUIDE_POOL if detail_guide_eps is not None or tone_margin_context is not None else 1,
        )
        self.receptive_radius, self.size_multiple = self._with_tail(
            self.enhancer.receptive_radius, self.enhancer.size_multiple
        )
        self.default_tile = 2048  # a 1080p frame in one piece: 20 % faster than 1024 tiles (their halos overlap)
        # 4K and 12-megapixel photos in one piece too: 1.5 -> 1.0 s and 2.5 -> 1.5 s on two threads for 0.2-0.5 GB more
        # peak memory; 8K stays in tiles, where larger ones were slower (benchmarks/results/working_scale/)
        self.whole_side = 4096

    def _with_tail(self, enhancer_radius: int, enhancer_multiple: int) -> tuple[int, int]:
        return enhancer_radius + self.tail_radius, math.lcm(enhancer_multiple, self.tail_multiple)

    def tiling(self, height: int, width: int) -> tuple[int, int]:
        return self._with_tail(*self.enhancer.tiling(height, width))

    GUIDE_POOL = 4  # the guided local mean and the tone margin's context are taken on blocks this many pixels wide

    def luma_blocks(self, base: Tensor) -> Tensor:
        """(B, 3, H, W) base reflectance -> (B, 1, H / GUIDE_POOL, W / GUIDE_POOL) its luma's block means (ceil),
        taken once for the guided local mean and the tone margin's context."""
        return luma(area_downsample(base, self.GUIDE_POOL))  # = the block means of the luma (both linear), 1/16 cost

    def _local_mean(self, noise: Tensor, base: Tensor, blocks: Tensor | None = None) -> Tensor:
        """The low-pass that the high-pass removes: a Gaussian blur of ``detail_sigma`` pixels, or (``detail_pooled``)
        the same blur on ``unshuffle`` x ``unshuffle`` block means, bilinearly upsampled - a sixth of the cost at
        1080p, and a local mean all the same; with ``detail_guide_eps``, :meth:`_guided_local_mean`, which follows
        the edges of the base reflectance ``base``. (B, 3, H, W) residual and base -> (B, 3, H, W)."""
        if self.detail_guide_eps is not None:
            return self._guided_local_mean(noise, base, blocks)
        if self.detail_pool == 1:
            return gaussian_blur(noise, self.detail_sigma)
        height, width = noise.shape[-2:]
        means = area_downsample(noise, self.detail_pool)
        means = gaussian_blur(means, self.detail_sigma / self.detail_pool)
        return upsample_bilinear(means, self.detail_pool)[..., :height, :width]

    def _guided_local_mean(self, noise: Tensor, base: Tensor, blocks: Tensor | None = None) -> Tensor:
        """The residual's local mean as a guided filter (He et al. 2013) would take it, guided by the luma of the
        base reflectance ``base``: a linear fit of the residual to the guide in each Gaussian window of
        ``detail_sigma`` pixels, fitted and evaluated on ``GUIDE_POOL``-pixel block means (whose noise is a
        sixteenth of a pixel's variance, far below ``detail_guide_eps``) and bilinearly upsampled. Where the guide
        varies less than sqrt(eps) it is the plain local mean; across a stronger edge each side keeps its own mean.
        Why: the denoiser's residual on a floodlit monument (0.5: it darkens the clipped highlight) spread by a
        plain blur into the dark sky round it, and subtracting that mean drew a bright glow 10-30 px wide there
        (issue 20). (B, 3, H, W) residual, (B, 3, H, W) base -> (B, 3, H, W)."""
        height, width = noise.shape[-2:]
        pool = max(self.detail_pool, self.GUIDE_POOL)
        guide = blocks if blocks is not None and pool == self.GUIDE_POOL else luma(area_downsample(base, pool))
        values = area_downsample(noise, pool)
        sigma = self.detail_sigma / pool
        mean_guide, mean_values = gaussian_blur(guide, sigma), gaussian_blur(values, sigma)
        covariance = gaussian_blur(guide * values, sigma) - mean_guide * mean_values
        variance = gaussian_blur(guide * guide, sigma) - mean_guide * mean_guide
        slope = covariance / (variance + self.detail_guide_eps)
        offset = mean_values - slope * mean_guide
        local = slope * guide + offset  # (the filter's usual second averaging, of slope and offset, cost CelebA val
        # identity 0.830 -> 0.821 with FaceNet: it widens the high-pass in flat regions beyond the trained one)
        return upsample_bilinear(local, pool)[..., :height, :width]

    def margin_share(self, base: Tensor, blocks: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) base reflectance -> (B, 1, H, W) in [0, 1]: how much of the tone head's lift margin a pixel
        gets - its surroundings' luma (block means of ``GUIDE_POOL`` pixels, a Gaussian of ``tone_margin_reach``
        pixels, bilinearly upsampled) over ``tone_margin_context``, capped at 1. Why: the margin lets the head lift a
        crushed shadow inside a lit face (trained on faces, it must), and the same margin painted every black night
        sky dark grey (0.05: frame 1149 of SICE, the moon-landing diorama of DICM); where everything around is dark
        there is nothing for it to lift towards."""
        height, width = base.shape[-2:]
        means = gaussian_blur(
            self.luma_blocks(base) if blocks is None else blocks, self.tone_margin_reach / self.GUIDE_POOL
        )
        share = means.div_(self.tone_margin_context).clamp_(0.0, 1.0)
        return upsample_bilinear(share, self.GUIDE_POOL)[..., :height, :width]

    NOISE_POOL = 8  # the noise level is averaged on blocks of this many pixels a side
    NOISE_LEVEL_RADIUS = 5 * NOISE_POOL  # its reach: a 3-block blur, the block itself and the bilinear upsampling

    def noise_level(self, removed: Tensor) -> Tensor:
        """(B, 3, H, W) high-passed noise the denoiser removes -> (B, 1, H, W) its local level, from -1.07 (nothing
        removed) through 0.95 (white noise of std 0.05) to 1.55 (mean |removed| 0.1): the log of its mean absolute
        value over the channels, averaged on ``NOISE_POOL``-pixel blocks, blurred by one block and bilinearly
        upsampled - a level that changes over tens of pixels, not at an edge."""
        height, width = removed.shape[-2:]
        level = area_downsample(removed.abs().mean(1, keepdim=True), self.NOISE_POOL)
        level = upsample_bilinear(gaussian_blur(level, 1.0), self.NOISE_POOL)[..., :height, :width]
        return (torch.log(level + 2e-3) + 4.6) / 1.5

    def forward(self, x: Tensor) -> Retinex:
        """x: (B, 3, H, W) in [0, 1] -> Retinex(denoised reflectance, illumination), both (B, 3, H, W)."""
        base = self.enhancer(x)
        light = base.illumination.mean(1, keepdim=True)
        # -log(I) / N, in place on the mean where nothing needs it kept (the same values: (-a) / b = a / (-b))
        log_gain = log_(light).div_(-GAIN_NORMALISER) if plain_inference() else -torch.log(light) / GAIN_NORMALISER
        noise = self.denoiser(base.reflectance, log_gain) if self.denoiser is not None else None
        context = self.tone_margin_context is not None
        blocks = self.luma_blocks(base.reflectance) if context or self.detail_guide_eps is not None else None
        local_mean = self._local_mean(noise, base.reflectance, blocks) if self.detail_sigma else None
        level = None
        if self.tone_noise:
            noise, local_mean = noise - local_mean, None
            level = self.noise_level(noise)
        share = self.margin_share(base.reflectance, blocks) if context else None
        if plain_inference():
            reflectance = self._finish_in_bands(base.reflectance, noise, local_mean, log_gain, level, share)
            return Retinex(reflectance, base.illumination)
        if local_mean is not None:
            noise = noise - local_mean
        if noise is not None and self.denoise_strength != 1.0:  # after the level: the tone head sees the whole noise
            noise = noise * self.denoise_strength
        reflectance = base.reflectance - noise if noise is not None else base.reflectance
        if self.tone is not None:
            reflectance = reflectance + self.tone(reflectance, log_gain, level, share)
        return Retinex(clamp_passing_gradient(reflectance, 0.0, 1.0), base.illumination)

    BAND_PIXELS = 32768  # pixels per band in plain inference (about 16 rows of 1080p)

    def _finish_in_bands(self, base: Tensor, noise: Tensor | None, local_mean: Tensor | None, log_gain: Tensor,
                         level: Tensor | None = None, share: Tensor | None = None) -> Tensor:  # fmt: skip
        """clamp(base - s (noise - local_mean) + tone(...), 0, 1) (s: ``denoise_strength``; no noise term where
        ``noise`` is None), a band of
        rows at a time: the values of :meth:`forward`'s graph, with every full-resolution intermediate (the tone
        head's 16-channel maps are 130 MB each at 1080p) kept in cache - the tone head 0.34 s -> 0.075 s at 1080p on
        one thread; with its buffers made once a frame instead of once a band (and no per-band batch loop), 1080p
        video through lowface-auto 425 -> 408 ms of CPU a frame (benchmarks/video_ab.py). All (B, C, H, W)."""
        out = torch.empty_like(base)
        height, width = base.shape[-2:]
        bands = list(row_bands(height, width, self.BAND_PIXELS))  # whole rows; the first is the largest
        rows = min(bands[0].stop, height)
        tone = self.tone.band_workspace(rows * width, base) if self.tone is not None else None
        for image in range(len(base)):  # an image at a time: a band's every channel is then one run of pixels
            for band in bands:
                reflectance = out[image, :, band]
                if noise is None:
                    reflectance.copy_(base[image, :, band])
                else:
                    torch.sub(base[image, :, band], noise[image, :, band], alpha=self.denoise_strength, out=reflectance)
                if local_mean is not None:
                    reflectance.add_(local_mean[image, :, band], alpha=self.denoise_strength)
                if tone is not None:
                    self.tone.correct_(reflectance, log_gain[image, :, band],
                                       None if level is None else level[image, :, band],
                                       None if share is None else share[image, :, band], tone)  # fmt: skip
                reflectance.clamp_(0.0, 1.0)
        return out


def denoising_networks(model: nn.Module) -> list[RestoreNet]:
    """The :class:`RestoreNet` modules inside ``model`` whose denoiser's residual is high-passed (``detail_sigma``), so
    that a share of it is a share of the noise; the v1-v3 design's residual (``lowface-restore``) also brightens."""
    return [m for m in model.modules() if isinstance(m, RestoreNet) and m.denoiser is not None and m.detail_sigma]


def set_denoise_strength(model: nn.Module, strength: float, name: str | None = None) -> int:
    """Set ``denoise_strength`` (the share of the predicted noise removed, in [0, 1]) on every network of
    :func:`denoising_networks` inside ``model`` (a routed pair: its restoring network); returns how many there were. A
    model with none is refused: nothing it computes would change, or (``lowface-restore``) its brightness would. The
    errors begin with ``name``, where given."""
    prefix = f"{name}: " if name else ""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"{prefix}the denoising strength is the share of the noise removed, in [0, 1], got {strength}")
    networks = denoising_networks(model)
    if not networks:
        raise ValueError(f"{prefix}this model has no denoiser whose residual is only noise (lowface-restore-real, its "
                         "fast student and the lowface-auto pairs take a denoising strength)")  # fmt: skip
    for network in networks:
        network.denoise_strength = float(strength)
    return len(networks)
