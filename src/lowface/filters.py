"""Image filters and constants shared by the models, the losses, the metrics and inference. Tensors are
(B, C, H, W)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights of R, G, B


def luma(x: Tensor, out: Tensor | None = None) -> Tensor:
    """(..., 3, H, W) RGB -> (..., 1, H, W) BT.601 luma, in x's dtype and device; with ``out`` (a (..., 1, H, W)
    buffer, plain inference) written into it in three passes without a three-channel temporary (the same values to
    float rounding; a 1080p frame, one thread: 2.4 -> 1 ms)."""
    if out is None:
        return (x * x.new_tensor(LUMA).view(3, 1, 1)).sum(-3, keepdim=True)
    torch.mul(x.narrow(-3, 0, 1), LUMA[0], out=out)
    return out.add_(x.narrow(-3, 1, 1), alpha=LUMA[1]).add_(x.narrow(-3, 2, 1), alpha=LUMA[2])


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


def _per_plane(x: Tensor, size: tuple[int, int], function) -> Tensor:
    """Apply ``function(plane, out)`` (an (H, W) float32 array -> writes the (H', W') array ``out``) to every channel
    of every image of (B, C, H, W), OpenCV limited to torch's thread count; -> (B, C, H', W'). One plane at a time
    in torch's own layout: no transposes to and from OpenCV's interleaved channels (which took 4 of every 5 ms of a
    bilinear upsampling)."""
    cv2.setNumThreads(torch.get_num_threads())
    source = x.detach().contiguous()
    out = torch.empty(*x.shape[:2], *size, dtype=x.dtype)
    for plane, target in zip(source.flatten(0, 1), out.flatten(0, 1), strict=True):
        function(plane.numpy(), target.numpy())
    return out


def _in_place(x: Tensor, reference: Callable[[Tensor], Tensor], function) -> Tensor:
    """``function(plane)`` (in place on an (H, W) float32 array with contiguous rows) on every channel of every image
    of a (B, C, H, W) tensor where OpenCV can run and x's rows are contiguous (a band of rows of a map included), else
    ``reference(x)`` (the torch op, in place); returns x."""
    if not (opencv_can_run(x) and x.stride(-1) == 1):
        return reference(x)
    cv2.setNumThreads(torch.get_num_threads())
    for image in x.unbind(0):
        for plane in image.unbind(0):
            function(plane.numpy())
    return x


def log_(x: Tensor) -> Tensor:
    """``x.log_()`` for x > 0 (what OpenCV returns at 0 or below differs from torch: callers pass positive maps), in
    place and through OpenCV where it can run: 6x faster than torch's on this CPU (a 1080p band of 136 rows: 0.8 ->
    0.13 ms, one thread), the same values to float32 rounding (4.8e-7 apart)."""
    return _in_place(x, Tensor.log_, lambda plane: cv2.log(plane, dst=plane))


def exp_(x: Tensor) -> Tensor:
    """``x.exp_()`` in place, through OpenCV where it can run (as :func:`log_`: 0.7 -> 0.12 ms a 1080p band,
    relative difference 1.2e-7)."""
    return _in_place(x, Tensor.exp_, lambda plane: cv2.exp(plane, dst=plane))


def upsample_bilinear(x: Tensor, scale: int) -> Tensor:
    """``F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)``: (B, C, h, w) ->
    (B, C, h * scale, w * scale), through OpenCV where it can run (same values to float rounding)."""
    if opencv_can_run(x):
        height, width = x.shape[-2] * scale, x.shape[-1] * scale

        def resize(plane: np.ndarray, out: np.ndarray) -> None:
            cv2.resize(plane, (width, height), out, interpolation=cv2.INTER_LINEAR)

        return _per_plane(x, (height, width), resize)
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


def area_downsample(x: Tensor, factor: int) -> Tensor:
    """``F.avg_pool2d(x, factor, ceil_mode=True)``: (B, C, H, W) -> (B, C, ceil(H / factor), ceil(W / factor)), the
    mean of each factor x factor block (of its in-image pixels where a block crosses the border). Through OpenCV's
    area resampling where it can run and the blocks tile the image (half the time at 1080p; the same values to
    float rounding); a power-of-two factor as successive halvings, which OpenCV runs at memory speed (a 1080p
    plane out of cache, one thread: factor 4 1.3 -> 0.55 ms, 8 0.7 -> 0.53 ms; the same means to 2e-7)."""
    height, width = x.shape[-2:]
    if factor > 1 and opencv_can_run(x) and height % factor == 0 and width % factor == 0:
        size = (height // factor, width // factor)
        halvings = factor.bit_length() - 1 if factor & (factor - 1) == 0 else 0

        def average(plane: np.ndarray, out: np.ndarray) -> None:
            for _ in range(halvings - 1):  # all but the last halving (whose result is written into out)
                plane = cv2.resize(plane, (plane.shape[1] // 2, plane.shape[0] // 2), interpolation=cv2.INTER_AREA)
            cv2.resize(plane, size[::-1], out, interpolation=cv2.INTER_AREA)

        return _per_plane(x, size, average)
    return F.avg_pool2d(x, factor, ceil_mode=True)


def box_mean(x: Tensor, radius: int) -> Tensor:
    """Mean over a (2r+1)^2 window, normalised by the number of in-image pixels at the borders. (B, C, H, W).
    Through OpenCV's running-sum box filter where it can run (faster than avg_pool2d on the fast enhancer's
    1/4-resolution maps of 1080p; the same values to float rounding)."""
    size = 2 * radius + 1
    if opencv_can_run(x):
        rows, cols = (torch.arange(n) for n in x.shape[-2:])  # in-image pixels of each window, per row and column
        rows = (rows + radius).clamp(max=len(rows) - 1) - (rows - radius).clamp(min=0) + 1
        cols = (cols + radius).clamp(max=len(cols) - 1) - (cols - radius).clamp(min=0) + 1
        window = (rows[:, None] * cols[None, :]).float().numpy()

        def mean(plane: np.ndarray, out: np.ndarray) -> None:
            cv2.boxFilter(plane, -1, (size, size), out, normalize=False, borderType=cv2.BORDER_CONSTANT)
            np.divide(out, window, out=out)

        return _per_plane(x, x.shape[-2:], mean)
    return F.avg_pool2d(x, size, stride=1, padding=radius, count_include_pad=False)


def mirror_padded(x: Tensor, pads: tuple[int, int, int, int]) -> Tensor:
    """(B, C, H, W) ``x`` padded by (left, right, top, bottom) pixels with its own mirror image (reflect padding,
    the border pixel not repeated); replicate padding where a side is too short to mirror (a map of one pixel).
    In x's dtype under autocast too (which would pad in float32)."""
    mode = "reflect" if min(x.shape[-2:]) > max(pads) else "replicate"
    if not torch.is_autocast_enabled(x.device.type):
        return F.pad(x, pads, mode=mode)
    with torch.autocast(x.device.type, enabled=False):
        return F.pad(x, pads, mode=mode)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Per-channel (depthwise) separable Gaussian blur with reflect padding. (B, C, H, W) -> same."""
    kernel = gaussian_kernel1d(sigma).to(x)
    channels, radius = int(x.shape[1]), kernel.numel() // 2  # a constant in traced graphs (ONNX needs it)
    if opencv_can_run(x) and min(x.shape[-2:]) > radius:  # reflect padding = OpenCV's BORDER_REFLECT_101
        taps = kernel.numpy().astype(np.float32)

        def blur(plane: np.ndarray, out: np.ndarray) -> None:
            cv2.sepFilter2D(plane, -1, taps, taps, out, borderType=cv2.BORDER_REFLECT_101)

        return _per_plane(x, x.shape[-2:], blur)
    x = mirror_padded(x, (radius, radius, radius, radius))
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


# sRGB (IEC 61966-2-1) primaries with the D65 white, rows X, Y, Z
_RGB_TO_XYZ = torch.tensor(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
    dtype=torch.float64,
)
_D65_WHITE = (0.95047, 1.0, 1.08883)


def srgb_to_linear(x: Tensor) -> Tensor:
    """sRGB values in [0, 1] -> linear light in [0, 1] (the piecewise IEC 61966-2-1 curve)."""
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def rgb_to_lab(x: Tensor) -> Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> (B, 3, H, W) CIELAB (L in [0, 100]), computed in float64."""
    linear = srgb_to_linear(x.double().clamp(0, 1))
    xyz = torch.einsum("ij,bjhw->bihw", _RGB_TO_XYZ.to(x.device), linear)
    white = torch.tensor(_D65_WHITE, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    t = xyz / white
    delta = 6 / 29
    f = torch.where(t > delta**3, t.clamp(min=1e-12) ** (1 / 3), t / (3 * delta**2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)
