"""Image filters and constants shared by the models, the losses, the metrics and inference. Tensors are
(B, C, H, W)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights of R, G, B


def luma(x: Tensor) -> Tensor:
    """(B, 3, H, W) RGB -> (B, 1, H, W) BT.601 luma, in x's dtype and device."""
    return (x * x.new_tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)


def mean_luma(image: np.ndarray) -> float:
    """Eq. 12: mean of 0.299 r + 0.587 g + 0.114 b over an (..., 3) image or array of pixels in [0, 1] (channels
    past the third ignored), in float64."""
    return float((image[..., :3] @ np.asarray(LUMA)).mean())


def gaussian_kernel1d(sigma: float, radius: int | None = None) -> Tensor:
    """Normalised 1-D Gaussian, radius 3*sigma by default."""
    radius = radius if radius is not None else math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return (kernel / kernel.sum()).float()


def plain_inference() -> bool:
    """Whether the current code runs as plain inference: under ``no_grad`` / ``inference_mode`` and outside
    tracing, scripting, ONNX export and torch.compile (which must see the reference torch ops). Only then may a
    cheaper stand-in with the same values run (an OpenCV kernel, a plain clamp, an in-place op); training keeps
    the reference ops throughout, so its numbers do not depend on which tensors need a gradient."""
    return not (
        torch.is_grad_enabled()
        or torch.jit.is_tracing()
        or torch.jit.is_scripting()
        or torch.onnx.is_in_onnx_export()
        or torch.compiler.is_compiling()
    )


def row_bands(height: int, width: int, pixels: int, multiple: int = 1) -> Iterator[slice]:
    """Slices of consecutive rows covering ``height``, each about ``pixels`` / ``width`` rows (a multiple of
    ``multiple``, at least one): the bands in which plain inference runs a network's full-resolution steps so that
    their intermediates stay in cache."""
    rows = max(1, pixels // width // multiple) * multiple
    return (slice(top, top + rows) for top in range(0, height, rows))


def opencv_can_run(x: Tensor) -> bool:
    """Whether an OpenCV kernel may stand in for a torch op on ``x``: a float32 CPU tensor in plain inference.
    OpenCV's separable filters and resizing are several times faster than PyTorch's CPU kernels for these
    shapes; the values agree to float32 rounding."""
    return x.device.type == "cpu" and x.dtype == torch.float32 and x.shape[1] <= 512 and plain_inference()


def _per_image(x: Tensor, function) -> Tensor:
    """Apply ``function`` ((H, W, C) float32 array -> (H', W', C) array) to every image of (B, C, H, W) with
    OpenCV limited to torch's thread count; -> (B, C, H', W')."""
    cv2.setNumThreads(torch.get_num_threads())
    outputs = []
    for image in x.detach():
        result = function(np.ascontiguousarray(image.permute(1, 2, 0).numpy()))
        outputs.append(torch.from_numpy(result.reshape(*result.shape[:2], -1)).permute(2, 0, 1))
    return torch.stack(outputs).contiguous()


def upsample_bilinear(x: Tensor, scale: int) -> Tensor:
    """``F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)``: (B, C, h, w) ->
    (B, C, h * scale, w * scale), through OpenCV where it can run (same values to float rounding)."""
    if opencv_can_run(x):
        height, width = x.shape[-2] * scale, x.shape[-1] * scale
        return _per_image(x, lambda image: cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR))
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Per-channel (depthwise) separable Gaussian blur with reflect padding. (B, C, H, W) -> same."""
    kernel = gaussian_kernel1d(sigma).to(x)
    channels, radius = int(x.shape[1]), kernel.numel() // 2  # a constant in traced graphs (ONNX needs it)
    if opencv_can_run(x) and min(x.shape[-2:]) > radius:  # reflect padding = OpenCV's BORDER_REFLECT_101
        taps = kernel.numpy().astype(np.float32)
        return _per_image(x, lambda image: cv2.sepFilter2D(image, -1, taps, taps, borderType=cv2.BORDER_REFLECT_101))
    pad_mode = "reflect" if min(x.shape[-2:]) > radius else "replicate"
    x = F.pad(x, (radius, radius, radius, radius), mode=pad_mode)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)
