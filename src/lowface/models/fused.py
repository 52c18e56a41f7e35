"""Convolutions with their activation in one oneDNN kernel, for plain inference on CPUs.

oneDNN can apply an activation to a convolution's output while it is still in cache (the op that torch.compile emits
on CPUs, ``torch.ops.mkldnn._convolution_pointwise``): the separate pass over the output map is gone (the restoring
U-Net's leaky ReLUs were a fifth of its time at 1080p, the illumination estimator's ReLUs a third of its own). Where
a PyTorch lacks the op, or outside plain inference (training, tracing, export), the modules run as they are: same
values to float rounding. :func:`fused_upsampled_join` does the same for a U-Net decoder step (upsampling, skip join,
convolution), without the upsampled map or the join.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.filters import mirror_padded, plain_inference

FUSED_CONVOLUTION = getattr(torch.ops.mkldnn, "_convolution_pointwise", None)
if not torch.backends.mkldnn.is_available():
    FUSED_CONVOLUTION = None


def fused_convolutions_can_run(x: Tensor) -> bool:
    """Whether oneDNN may run a convolution and its activation as one kernel on ``x``: a float32 or bfloat16 CPU
    tensor in plain inference on a PyTorch with oneDNN's fused-convolution op."""
    fused_dtype = x.dtype in (torch.float32, torch.bfloat16)
    return x.device.type == "cpu" and fused_dtype and FUSED_CONVOLUTION is not None and plain_inference()


def activated_convolution(conv: nn.Conv2d, x: Tensor, activation: nn.Module | None = None) -> Tensor:
    """``activation(conv(x))`` through the modules themselves (the reference ops, hooks included): the twin of
    :func:`fused_convolution` wherever that cannot run."""
    return conv(x) if activation is None else activation(conv(x))


class MirrorConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose input is mirrored past the border (:func:`lowface.filters.mirror_padded`) instead of padded
    with zeros. Why: zeros are a black frame round the picture, which the restoring U-Net reads as a dark border to
    brighten; its residual there darkened the outer 10 px of night skies by 20-30 % (DICM 27, issue 20). Same weights
    and state-dict keys as ``nn.Conv2d``."""

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        rows, cols = self.padding
        return F.conv2d(mirror_padded(x, (cols, cols, rows, rows)), weight, bias, self.stride, 0, self.dilation,
                        self.groups)  # fmt: skip


def fused_convolution(conv: nn.Conv2d, x: Tensor, activation: nn.Module | None = None) -> Tensor:
    """``activation(conv(x))`` as one kernel (x: (B, C, H, W) float32 or bfloat16, see
    :func:`fused_convolutions_can_run`); ``activation``: None, ``nn.ReLU``, ``nn.LeakyReLU`` or ``nn.Sigmoid``.
    The weights are cast to ``x``'s dtype. A :class:`MirrorConv2d` runs zero-padded, then its outer rows and columns
    (the only outputs that padding reaches) are computed again from mirrored strips: the values of the module at the
    cost of a few thin convolutions, not a padded copy of the whole map."""
    if activation is None:
        attr, scalars = "none", []
    elif isinstance(activation, nn.LeakyReLU):
        attr, scalars = "leaky_relu", [activation.negative_slope]
    elif isinstance(activation, nn.ReLU | nn.Sigmoid):
        attr, scalars = type(activation).__name__.lower(), []
    else:
        raise ValueError(f"no fused kernel for {type(activation).__name__} after a convolution")
    weight = conv.weight.to(x.dtype)
    bias = conv.bias.to(x.dtype) if conv.bias is not None else None
    stride, dilation = list(conv.stride), list(conv.dilation)

    def run(source: Tensor, padding: list[int]) -> Tensor:
        return FUSED_CONVOLUTION(source, weight, bias, padding, stride, dilation, conv.groups, attr, scalars, "")

    if not isinstance(conv, MirrorConv2d) or conv.padding == (0, 0):
        return run(x, list(conv.padding))
    return _mirrored_edges(conv, x, run)


# Output rows (columns) a border strip of a strided convolution computes beyond those the border reaches: oneDNN's
# bfloat16 kernels return garbage for a strided convolution whose output is one pixel wide (PyTorch 2.13, AMX; float32
# is right). Unstrided strips compute only what they keep: half the time of three rows.
STRIP_EXTRA = 2


def _mirrored_edges(conv: MirrorConv2d, x: Tensor, run) -> Tensor:
    """``run(x, padding)`` (a fused convolution) with the zero padding replaced by a mirror: zero-padded over the
    whole map, then the output rows (columns) whose window reaches past a border (and ``STRIP_EXTRA`` more where
    strided) computed again from a strip of the input mirrored on the border side only; a map too small for strips is
    mirrored whole."""
    (pad_h, pad_w), (stride_h, stride_w) = conv.padding, conv.stride
    reach_h, reach_w = (d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size, strict=True))
    height, width = x.shape[-2:]
    span = 2 * (max(reach_h, reach_w) + (STRIP_EXTRA + 1) * max(stride_h, stride_w) + max(pad_h, pad_w))
    if min(height, width) <= span:
        return run(mirror_padded(x, (pad_w, pad_w, pad_h, pad_h)), [0, 0])
    out = run(x, [pad_h, pad_w])
    out_h, out_w = out.shape[-2:]
    extra_h, extra_w = (STRIP_EXTRA if stride > 1 else 0 for stride in (stride_h, stride_w))
    # per axis: output rows the first border reaches, and the first output row the second border reaches
    first_h, last_h = -(-pad_h // stride_h), -(-(height + pad_h - reach_h) // stride_h)
    first_w, last_w = -(-pad_w // stride_w), -(-(width + pad_w - reach_w) // stride_w)
    if first_h:
        strip = x[..., : (first_h + extra_h - 1) * stride_h - pad_h + reach_h + 1, :]
        out[..., :first_h, :] = run(mirror_padded(strip, (pad_w, pad_w, pad_h, 0)), [0, 0])[..., :first_h, :]
    if last_h < out_h:
        strip = x[..., (last_h - extra_h) * stride_h - pad_h :, :]
        out[..., last_h:, :] = run(mirror_padded(strip, (pad_w, pad_w, 0, pad_h)), [0, 0])[..., extra_h:, :]
    if first_w:
        strip = x[..., : (first_w + extra_w - 1) * stride_w - pad_w + reach_w + 1]
        out[..., :first_w] = run(mirror_padded(strip, (pad_w, 0, pad_h, pad_h)), [0, 0])[..., :first_w]
    if last_w < out_w:
        strip = x[..., (last_w - extra_w) * stride_w - pad_w :]
        out[..., last_w:] = run(mirror_padded(strip, (0, pad_w, pad_h, pad_h)), [0, 0])[..., extra_w:]
    return out


# Bilinear x2 upsampling (align_corners=False) then a 3-tap convolution, per output phase p (even / odd position):
# output 2i + p = sum over j of (BILINEAR_TAPS[p] @ w)[j] * x_padded[i + j], x replicate-padded by one pixel (which is
# what the upsampling does at the image's edge). BILINEAR_TAPS[p][j, k]: the share of tap k of w that falls on x[i+j].
BILINEAR_TAPS = torch.tensor(
    [[[0.75, 0.25, 0.0], [0.25, 0.75, 0.75], [0.0, 0.0, 0.25]],
     [[0.25, 0.0, 0.0], [0.75, 0.75, 0.25], [0.0, 0.25, 0.75]]]
)  # fmt: skip


def _upsampling_weights(weight: Tensor) -> Tensor:
    """(O, I, 3, 3) weights of a convolution that runs after a bilinear x2 upsampling -> (4 O, I, 3, 3) weights of
    one convolution at the low resolution whose output, its phases interleaved (:func:`_interleave_phases`), is the
    same (away from the border). Output channels phase-major: (row phase, column phase, channel)."""
    taps = BILINEAR_TAPS.to(weight.device)
    phases = torch.einsum("pjk,oikm,qlm->pqoijl", taps, weight.float(), taps)
    return phases.reshape(-1, *weight.shape[1:])


def _interleave_phases(x: Tensor) -> Tensor:
    """(B, 4 O, h, w), channels (row phase, column phase, channel) -> (B, O, 2 h, 2 w) with phase (p, q) at rows p::2
    and columns q::2, in x's memory format: ``pixel_shuffle`` for phase-major channels, as one copy in which each
    pixel's O channels move together (a 1080p decoder step's 128 channels: 7-8 -> 3.8 ms, bfloat16 channels-last)."""
    batch, channels, height, width = x.shape
    phases = x.view(batch, 2, 2, channels // 4, height, width)  # (B, p, q, O, h, w)
    if x.is_contiguous(memory_format=torch.channels_last):
        out = x.new_empty(batch, height, 2, width, 2, channels // 4)
        out.copy_(phases.permute(0, 4, 1, 5, 2, 3))
        return out.view(batch, 2 * height, 2 * width, -1).permute(0, 3, 1, 2)
    out = x.new_empty(batch, channels // 4, height, 2, width, 2)
    out.copy_(phases.permute(0, 3, 4, 1, 5, 2))
    return out.view(batch, -1, 2 * height, 2 * width)


_WHOLE, _FIRST, _LAST = slice(None), slice(None, 1), slice(-1, None)
# A decoder step's border recomputed the reference way: (rows, columns) of the low-resolution map, of the skip map and
# of the output edge they give - top and bottom rows, left and right columns (two low-resolution pixels deep)
JOIN_EDGES = (
    (slice(None, 2), _WHOLE, slice(None, 4), _WHOLE, _FIRST, _WHOLE),
    (slice(-2, None), _WHOLE, slice(-4, None), _WHOLE, _LAST, _WHOLE),
    (_WHOLE, slice(None, 2), _WHOLE, slice(None, 4), _WHOLE, _FIRST),
    (_WHOLE, slice(-2, None), _WHOLE, slice(-4, None), _WHOLE, _LAST),
)


def fused_upsampled_join(conv: nn.Conv2d, activation: nn.LeakyReLU | nn.ReLU, low: Tensor, skip: Tensor) -> Tensor:
    """``activation(conv(cat([upsample(low), skip], 1)))`` (a U-Net decoder step: ``upsample`` bilinear to ``skip``'s
    size, align_corners False; a 3x3 ``conv`` with padding 1) for ``skip`` exactly twice ``low``'s height and width,
    without the upsampled map or the concatenation (:func:`fused_convolutions_can_run` inputs, (B, C, h, w) and
    (B, C', 2h, 2w)). The convolution of the upsampled map is one convolution of ``low`` with four times the outputs
    (:func:`_upsampling_weights`), its phases interleaved; the skip's convolution adds it in the same oneDNN kernel. The
    zero padding of the reference acts on the upsampled map, not on ``low``: the outermost rows and columns are
    recomputed the reference way from strips two low-resolution pixels deep. 1080p through ``lowface-restore-real``'s
    last decoder step, one thread, bfloat16: 102 -> 70 ms (the upsampling and the copy of the join were most of it).
    Same values to float rounding."""
    height, width = skip.shape[-2:]
    channels = low.shape[1]
    if (2 * low.shape[-2], 2 * low.shape[-1]) != (height, width) or min(low.shape[-2:]) < 2:
        return fused_convolution(conv, upsampled_join(low, skip), activation)
    weight = conv.weight
    upsampling = _upsampling_weights(weight[:, :channels]).to(low.dtype)
    with torch.autocast(low.device.type, enabled=False):  # autocast would pad in float32
        padded = F.pad(low, (1, 1, 1, 1), mode="replicate")
    from_low = FUSED_CONVOLUTION(padded, upsampling, None, [0, 0], [1, 1], [1, 1], 1, "none", [], "")
    bias = conv.bias.to(skip.dtype) if conv.bias is not None else None
    out = FUSED_CONVOLUTION.binary(skip, _interleave_phases(from_low), weight[:, channels:].to(skip.dtype), bias,
                                   [1, 1], [1, 1], [1, 1], 1, "add", None, None, [], None)  # fmt: skip
    out = F.leaky_relu_(out, activation.negative_slope) if isinstance(activation, nn.LeakyReLU) else out.relu_()
    for low_rows, low_cols, skip_rows, skip_cols, rows, cols in JOIN_EDGES:
        joined = upsampled_join(low[..., low_rows, low_cols], skip[..., skip_rows, skip_cols])
        out[..., rows, cols] = fused_convolution(conv, joined, activation)[..., rows, cols]
    return out


def upsampled_join(low: Tensor, skip: Tensor) -> Tensor:
    """A U-Net skip join: ``low`` bilinearly upsampled to ``skip``'s size, then ``skip``, along the channels."""
    return torch.cat([F.interpolate(low, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1)
