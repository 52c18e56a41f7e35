"""Convolutions with their activation in one oneDNN kernel, for plain inference on CPUs.

oneDNN can apply an activation to a convolution's output while it is still in cache (the op that torch.compile emits
on CPUs, ``torch.ops.mkldnn._convolution_pointwise``): the separate pass over the output map is gone (the restoring
U-Net's leaky ReLUs were a fifth of its time at 1080p, the illumination estimator's ReLUs a third of its own). Where
a PyTorch lacks the op, or outside plain inference (training, tracing, export), the modules run as they are: same
values to float rounding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lowface.filters import plain_inference

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


def fused_convolution(conv: nn.Conv2d, x: Tensor, activation: nn.Module | None = None) -> Tensor:
    """``activation(conv(x))`` as one kernel (x: (B, C, H, W) float32 or bfloat16, see
    :func:`fused_convolutions_can_run`); ``activation``: None, ``nn.ReLU``, ``nn.LeakyReLU`` or ``nn.Sigmoid``.
    The weights are cast to ``x``'s dtype."""
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
    padding, stride, dilation = list(conv.padding), list(conv.stride), list(conv.dilation)
    return FUSED_CONVOLUTION(x, weight, bias, padding, stride, dilation, conv.groups, attr, scalars, "")
