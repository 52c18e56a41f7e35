"""Image files and the conversions between files, PIL, NumPy (RGB or OpenCV BGR) and tensors.

Inside lowface an image is float RGB in [0, 1], shape (B, 3, H, W). Files keep what they had on the way out:
bit depth (8/16), grayscale, alpha (passed through untouched), EXIF (its orientation applied on read and reset to
1 on write) and the ICC profile. Phones' HEIC/HEIF is read and written through pillow-heif; camera RAW (DNG, CR2,
NEF, ARW, ...) is developed with rawpy (camera white balance, sRGB, 16-bit, no automatic brightening) and written
as 16-bit TIFF. Video files are in :mod:`lowface.video`.
"""

from __future__ import annotations

import io
import os
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pillow_heif
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

WRITABLE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".heif"})
RAW_SUFFIXES = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw"})
IMAGE_SUFFIXES = WRITABLE_SUFFIXES | RAW_SUFFIXES
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
SIXTEEN_BIT_SUFFIXES = frozenset({".png", ".tif", ".tiff"})
RAW_OUTPUT_SUFFIX = ".tif"  # a developed RAW is written as 16-bit TIFF (no RAW writer exists)
PIL_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
               ".heic": "HEIF", ".heif": "HEIF"}  # fmt: skip
MIN_SIDE = 8
MAX_PIXELS = int(os.environ.get("LOWFACE_MAX_PIXELS", 200_000_000))

Image.MAX_IMAGE_PIXELS = None  # we check the header ourselves, with a clearer message
pillow_heif.register_heif_opener()  # HEIC/HEIF through PIL, both ways


class ImageReadError(ValueError):
    """A file that cannot be read as an image; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


@dataclass(frozen=True)
class ImageData:
    """A decoded image. rgb: (H, W, 3) float32 in [0, 1]; alpha: (H, W) float32 in [0, 1] or None; exif: the EXIF
    block (orientation already applied and reset to 1) or None; icc: the ICC colour profile or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    grayscale: bool = False
    exif: bytes | None = None
    icc: bytes | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.rgb.shape[0], self.rgb.shape[1]

    def with_rgb(self, rgb: np.ndarray) -> ImageData:
        return replace(self, rgb=rgb.astype(np.float32, copy=False))


def _is_sixteen_bit(header: Image.Image, raw: bytes) -> bool:
    if header.mode.startswith("I;16") or header.mode in ("I", "F"):
        return True
    if header.format == "PNG" and raw[12:16] == b"IHDR":
        return raw[24] == 16
    if header.format == "TIFF":
        bits = header.tag_v2.get(258) if hasattr(header, "tag_v2") else None
        return bits is not None and max(np.atleast_1d(bits)) > 8
    return False


ORIENTATION_TAG = 0x0112
# TIFF tags that describe a file's layout (size, strips, compression, ...) and its ICC profile (kept separately)
TIFF_LAYOUT_TAGS = frozenset({254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 280, 281, 284, 292, 293,
                              317, 320, 322, 323, 324, 325, 338, 339, 34675})  # fmt: skip


def _exif(header: Image.Image) -> tuple[int, bytes | None]:
    """(EXIF orientation 1..8, the EXIF block with orientation reset to 1, or None when there is none)."""
    try:
        found = header.getexif()
        orientation = int(found.get(ORIENTATION_TAG, 1))
        if not found:
            return orientation, None
        exif = Image.Exif()  # a copy: a TIFF's own EXIF object is its tags, which the decoder still needs
        exif.load(found.tobytes())
        for tag in TIFF_LAYOUT_TAGS & set(exif):  # a TIFF's layout tags describe its own strips, not ours
            del exif[tag]
        if ORIENTATION_TAG in exif:
            exif[ORIENTATION_TAG] = 1  # the pixels are turned on read: a viewer must not turn them again
        return orientation, exif.tobytes()
    except Exception:  # a broken EXIF block must not make a readable image unreadable; it is dropped
        return 1, None


def _read_raw(path: Path) -> ImageData:
    """Develop a camera RAW file with rawpy: camera white balance, sRGB, 16-bit, exposure as captured."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            pixels = raw.postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=16)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise ImageReadError(path, f"cannot develop camera RAW ({type(exc).__name__}: {exc})") from None
    height, width = pixels.shape[:2]
    if height * width > MAX_PIXELS:
        raise ImageReadError(path, f"image is {width}x{height}, over the {MAX_PIXELS:,}-pixel limit")
    return _from_channels(pixels, 16, bgr=False)


def _apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W, ...) array."""
    ops: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
        7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
        8: lambda a: np.swapaxes(a, 0, 1)[::-1],
    }
    return np.ascontiguousarray(ops[orientation](array)) if orientation in ops else array


def _split_channels(data: np.ndarray, bgr: bool) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """(H, W) or (H, W, 1..4) float array -> (rgb (H, W, 3), alpha (H, W) or None, was_grayscale)."""
    if data.ndim == 2:
        data = data[..., None]
    channels = data.shape[2]
    alpha = np.ascontiguousarray(data[..., -1]) if channels in (2, 4) else None
    color = data[..., : 1 if channels <= 2 else 3]
    if color.shape[2] == 3 and bgr:
        color = color[..., ::-1]
    rgb = np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color
    return np.ascontiguousarray(rgb), alpha, color.shape[2] == 1


def _from_channels(pixels: np.ndarray, bit_depth: int, bgr: bool) -> ImageData:
    """(H, W) or (H, W, 1..4) integer array -> ImageData."""
    scale = 65535.0 if bit_depth == 16 else 255.0
    rgb, alpha, grayscale = _split_channels(pixels.astype(np.float32) / scale, bgr)
    return ImageData(rgb, alpha, bit_depth, grayscale)


def read_image(path: str | Path) -> ImageData:
    """Read JPEG/PNG/BMP/TIFF/WebP/HEIC (8/16-bit, gray, RGBA, EXIF-rotated) or camera RAW -> ImageData.

    Raises ImageReadError naming the file for: missing/empty/non-image/truncated files, images smaller than
    8x8, and images over LOWFACE_MAX_PIXELS (200 MP by default), refused from the header before decoding.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file ({exc.strerror or exc})") from None
    if not raw:
        raise ImageReadError(path, "file is empty")
    if path.suffix.lower() in RAW_SUFFIXES:
        return _read_raw(path)
    return decode_image(raw, path)


def decode_image(raw: bytes, path: str | Path = "<bytes>") -> ImageData:
    """Decode an image file's bytes (see :func:`read_image`); ``path`` names it in errors."""
    try:
        header = Image.open(io.BytesIO(raw))
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image (unrecognised format)") from None
    except Exception as exc:
        raise ImageReadError(path, f"cannot parse image header ({exc})") from None
    width, height = header.size
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            path, f"image is {width}x{height}, over the {MAX_PIXELS:,}-pixel limit (set LOWFACE_MAX_PIXELS to allow it)"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageReadError(path, f"image is {width}x{height}; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    orientation, exif = _exif(header)
    icc = header.info.get("icc_profile") or None
    try:
        if _is_sixteen_bit(header, raw):
            pixels = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
            if pixels is None:
                raise ValueError("decoder failed (truncated or corrupt data)")
            if pixels.dtype != np.uint16:
                pixels = np.clip(pixels, 0, 1) * 65535 if pixels.dtype.kind == "f" else pixels
                pixels = pixels.astype(np.uint16)
            data = _from_channels(pixels, 16, bgr=True)
        else:
            header.load()
            if header.format == "TIFF":
                orientation = 1  # Pillow's TIFF decoder turns the pixels itself
            image = header
            if image.mode not in ("L", "LA", "RGB", "RGBA"):
                has_alpha = "A" in image.mode or "transparency" in image.info
                image = image.convert("RGBA" if has_alpha else "RGB")
            data = _from_channels(np.asarray(image), 8, bgr=False)
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(path, f"corrupt or truncated image data ({exc})") from None
    if orientation != 1:
        alpha = None if data.alpha is None else _apply_orientation(data.alpha, orientation)
        data = replace(data, rgb=_apply_orientation(data.rgb, orientation), alpha=alpha)
    return replace(data, exif=exif, icc=icc)


def _quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    scale = 65535.0 if bit_depth == 16 else 255.0
    return np.round(np.clip(values, 0.0, 1.0) * scale).astype(np.uint16 if bit_depth == 16 else np.uint8)


def encode_image(data: ImageData, suffix: str, quality: int = 95) -> bytes:
    """Encode ImageData for a file suffix (.png, .jpg, ...), with its EXIF and ICC profile where the format holds
    them (not BMP; not 16-bit TIFF). 16-bit only where the format allows it (PNG, TIFF)."""
    suffix = suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise ValueError(f"unsupported output format {suffix!r}; use one of {sorted(WRITABLE_SUFFIXES)}")
    bit_depth = data.bit_depth if suffix in SIXTEEN_BIT_SUFFIXES else 8
    keep_alpha = data.alpha is not None and suffix not in (".jpg", ".jpeg", ".bmp")
    color = (data.rgb @ np.asarray([0.299, 0.587, 0.114], np.float32))[..., None] if data.grayscale else data.rgb
    planes = np.concatenate([color, data.alpha[..., None]], axis=2) if keep_alpha else color
    pixels = _quantize(planes, bit_depth)
    if bit_depth == 8 and suffix in PIL_FORMATS:
        return _encode_with_pil(pixels, PIL_FORMATS[suffix], data, quality)
    if pixels.shape[2] >= 3:  # OpenCV wants BGR(A)
        pixels = pixels[..., [2, 1, 0, *range(3, pixels.shape[2])]]
    ok, buffer = cv2.imencode(suffix, np.ascontiguousarray(pixels.squeeze(2) if pixels.shape[2] == 1 else pixels))
    if not ok:
        raise ValueError(f"OpenCV could not encode a {suffix} image")
    if suffix == ".png":
        return _with_png_metadata(buffer.tobytes(), data)
    return buffer.tobytes()


def _encode_with_pil(pixels: np.ndarray, pil_format: str, data: ImageData, quality: int) -> bytes:
    """8-bit (H, W, 1..4) pixels -> file bytes, with EXIF and ICC."""
    image = Image.fromarray(pixels.squeeze(2) if pixels.shape[2] == 1 else pixels)
    options: dict[str, Any] = {}
    if data.exif:
        options["exif"] = data.exif
    if data.icc:
        options["icc_profile"] = data.icc
    if pil_format in ("JPEG", "WEBP", "HEIF"):
        options["quality"] = quality
    if pil_format == "PNG":
        options["compress_level"] = 3
    buffer = io.BytesIO()
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")


def _with_png_metadata(png: bytes, data: ImageData) -> bytes:
    """Insert iCCP and eXIf chunks right after IHDR (where PNG wants them: before the image data)."""
    chunks = b""
    if data.icc:
        chunks += _png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(data.icc))
    if data.exif:
        chunks += _png_chunk(b"eXIf", data.exif.removeprefix(b"Exif\0\0"))
    end_of_header = 8 + 4 + 4 + 13 + 4  # signature, IHDR length, type, payload, CRC
    return png[:end_of_header] + chunks + png[end_of_header:]


def output_suffix(source: str | Path) -> str:
    """The suffix an enhanced copy of ``source`` is written with by default: its own, or .tif for camera RAW."""
    suffix = Path(source).suffix
    return RAW_OUTPUT_SUFFIX if suffix.lower() in RAW_SUFFIXES else suffix


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _current_umask()  # read once at import: os.umask can only be read by setting it


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: readers never see a partial file.
    The file gets the permissions a plain ``open(path, "wb")`` would give (0666 minus the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~UMASK)  # mkstemp makes 0600 files
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_image(path: str | Path, data: ImageData, quality: int = 95) -> None:
    """Atomically write ImageData; the format follows the suffix."""
    atomic_write_bytes(path, encode_image(data, Path(path).suffix, quality))


def image_to_tensor(rgb: np.ndarray) -> Tensor:
    """(H, W, 3) float array -> (1, 3, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


def tensor_to_image(x: Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) tensor -> (H, W, 3) float32 array."""
    return x.detach().reshape(-1, *x.shape[-3:])[0].permute(1, 2, 0).float().cpu().numpy()


# ---- API inputs: accept what users have, give back the same kind -------------------------------------------

Restore = Callable[[Tensor], Any]


def to_batch(image: Any, bgr: bool = False) -> tuple[Tensor, Restore]:
    """Convert a user image to a (B, 3, H, W) float tensor in [0, 1], plus a function that converts a result
    of that shape back to the user's kind (same type, dtype, channel order, gray/alpha where applicable).

    Accepted: ``PIL.Image`` (any mode), NumPy (H, W), (H, W, 1|3|4) uint8/uint16/float in [0, 1] (``bgr=True``
    for OpenCV arrays), torch tensors (3, H, W) or (B, 3, H, W) float in [0, 1], and ``ImageData``.
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
        data = _from_channels(array, 8, bgr)
    elif dtype == np.uint16:
        data = _from_channels(array, 16, bgr)
    elif dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError("input array contains NaN or Inf values")
        rgb, alpha, grayscale = _split_channels(np.clip(array.astype(np.float32), 0, 1), bgr)
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
        return _quantize(planes, 16 if dtype == np.uint16 else 8)

    return image_to_tensor(data.rgb), restore
