"""Conversions between what users hold (PIL, NumPy RGB or OpenCV BGR, tensors, ImageData) and lowface's
tensors: float RGB in [0, 1], shape (B, 3, H, W)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from lowface.io.image import ImageData, from_channels, quantize, split_channels

INTEGER_RANGES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}  # decoded pixels' full scale


def as_float(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8, uint16 (full 16-bit scale) or float -> float32 in [0, 1]."""
    return np.asarray(image, np.float32) / INTEGER_RANGES.get(image.dtype, 1.0)


def pixels_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """(H, W, ...) uint8 (returned as is), uint16 at full 16-bit scale (rounded to 8 bits) or float in [0, 1]
    (:func:`to_uint8`) -> uint8."""
    if pixels.dtype == np.uint8:
        return pixels
    return to_uint8(as_float(pixels) if pixels.dtype == np.uint16 else pixels)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """(H, W, ...) float in [0, 1] -> uint8, rounded (values outside [0, 1] clipped)."""
    scaled = np.clip(rgb, 0.0, 1.0)  # a new array: the steps below work in place on it (14 -> 11 ms at 1080p)
    scaled *= 255
    return np.rint(scaled, out=scaled).astype(np.uint8)


def tensor_to_uint8(image: Tensor) -> np.ndarray:
    """(3, H, W) tensor in [0, 1] -> contiguous (H, W, 3) uint8 (what dlib, OpenCV, MediaPipe and the video encoder
    take), the values of :func:`to_uint8` (clipped, rounded half to even). Scaled and rounded in torch's planar
    layout, each plane cast to 8 bits as it lies and the three interleaved by OpenCV: a 1080p frame 11.5 ms (float
    array, then PyAV's own contiguous copy) or 40 ms (the transposed copy this took before) -> 6 ms, one thread."""
    planes = image.detach().float().clamp(0, 1).mul_(255).round_().to(torch.uint8).cpu().numpy()
    return cv2.merge(list(planes))


def image_to_tensor(rgb: np.ndarray) -> Tensor:
    """(H, W, 3) float array -> (1, 3, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


def pixels_to_tensor(rgb: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 or uint16 array (decoded pixels: 8-bit, or 16-bit for sources of more than 8 bits) ->
    (1, 3, H, W) float32 tensor in [0, 1], contiguous: the values of ``image_to_tensor(as_float(rgb))`` in one
    converting copy and one in-place division (a 1080p video frame 30 -> 7 ms on one thread: no float (H, W, 3)
    array in between, no second pass to torch's layout)."""
    if rgb.dtype not in INTEGER_RANGES or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 or uint16 image, got {rgb.dtype} {rgb.shape}")
    out = torch.empty(1, 3, *rgb.shape[:2])
    out[0].copy_(torch.from_numpy(rgb).permute(2, 0, 1))
    return out.div_(INTEGER_RANGES[rgb.dtype])


def tensor_to_image(x: Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) tensor -> (H, W, 3) float32 array."""
    return x.detach().reshape(-1, *x.shape[-3:])[0].permute(1, 2, 0).float().cpu().numpy()


Restore = Callable[[Tensor], Any]


def to_batch(image: Any, bgr: bool = False) -> tuple[Tensor, Restore]:
    """Convert a user image to a (B, 3, H, W) float tensor in [0, 1], plus a function that converts a result
    of that shape back to the user's kind (same type, dtype, channel order, gray/alpha where applicable).

    Accepted: ``PIL.Image`` (any mode), NumPy (H, W), (H, W, 1|3|4) uint8/uint16/float in [0, 1] (``bgr=True``
    for OpenCV arrays), torch tensors (3, H, W) or (B, 3, H, W) float in [0, 1], and ``ImageData``.

    Example:
        >>> import numpy as np
        >>> batch, restore = to_batch(np.full((4, 6), 51, np.uint8))  # a grey image
        >>> tuple(batch.shape), round(batch.max().item(), 3)
        ((1, 3, 4, 6), 0.2)
        >>> back = restore(batch)
        >>> back.shape, back.dtype, int(back.max())
        ((4, 6), dtype('uint8'), 51)
    """
    if isinstance(image, ImageData):
        return image_to_tensor(image.rgb), lambda out: image.with_rgb(tensor_to_image(out))
    if isinstance(image, Image.Image):
        pil = ImageOps.exif_transpose(image) or image
        mode = pil.mode
        array = np.asarray(pil.convert("RGBA" if "A" in mode or "transparency" in pil.info else "RGB"))
        batch, restore_array = to_batch(array)

        def restore_pil(out: Tensor) -> Image.Image:
            result = Image.fromarray(restore_array(out))
            return result.convert(mode) if mode in ("L", "LA") else result

        return batch, restore_pil
    if isinstance(image, np.ndarray):
        return _numpy_to_batch(image, bgr)
    if isinstance(image, Tensor):
        if image.ndim not in (3, 4) or image.shape[-3] != 3:
            raise ValueError(f"expected a tensor of shape (3, H, W) or (B, 3, H, W), got {tuple(image.shape)}")
        if not image.is_floating_point():
            raise ValueError(f"expected a float tensor in [0, 1], got {image.dtype}")
        if not torch.isfinite(image).all():
            raise ValueError("input tensor contains NaN or Inf values")
        batch = image if image.ndim == 4 else image.unsqueeze(0)
        dtype, squeeze = image.dtype, image.ndim == 3
        return batch.float().clamp(0, 1), lambda out: (out[0] if squeeze else out).to(dtype)
    raise TypeError(f"unsupported image type {type(image).__name__}; pass a PIL image, NumPy array or tensor")


def _numpy_to_batch(array: np.ndarray, bgr: bool) -> tuple[Tensor, Restore]:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected an array of shape (H, W) or (H, W, 1|3|4), got {array.shape}")
    dtype = array.dtype
    if dtype == np.uint8:
        data = from_channels(array, 8, bgr)
    elif dtype == np.uint16:
        data = from_channels(array, 16, bgr)
    elif dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError("input array contains NaN or Inf values")
        rgb, alpha, grayscale = split_channels(np.clip(array.astype(np.float32), 0, 1), bgr)
        data = ImageData(rgb, alpha, 16, grayscale)
    else:
        raise ValueError(f"unsupported array dtype {dtype}; use uint8, uint16 or float in [0, 1]")
    shape = array.shape

    def restore(out: Tensor) -> np.ndarray:
        rgb = tensor_to_image(out)
        if data.grayscale:
            planes = (rgb @ np.asarray([0.299, 0.587, 0.114], np.float32))[..., None]
        else:
            planes = rgb[..., ::-1] if bgr else rgb
        if data.alpha is not None:
            planes = np.concatenate([planes, data.alpha[..., None]], axis=2)
        planes = planes.reshape(shape)
        if dtype.kind == "f":
            return planes.astype(dtype)
        return quantize(planes, 16 if dtype == np.uint16 else 8)

    return image_to_tensor(data.rgb), restore
