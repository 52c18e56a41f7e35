"""Image files: reading, decoding, encoding and writing, with what the file had kept.

Files keep what they had on the way out: bit depth (8/16), grayscale, alpha (passed through untouched), EXIF and XMP
(:mod:`lowface.io.metadata`: the orientation applied on read and reset to 1) and the ICC profile. Phones'
HEIC/HEIF is read and written through pillow-heif (:mod:`lowface.io.heif`); camera RAW (DNG, CR2, NEF, ARW, ...) is
developed with rawpy (camera white balance, sRGB, 16-bit, no automatic brightening) and written as 16-bit TIFF.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from lowface.io.files import RAW_SUFFIXES, SIXTEEN_BIT_SUFFIXES, WRITABLE_SUFFIXES, atomic_write_bytes
from lowface.io.heif import encode_deep_heif, heif_support, read_deep_heif
from lowface.io.metadata import XMP_TAG, png_text_chunk, read_exif, read_iptc, read_xmp, with_iptc
from lowface.io.multiframe import several_images

PIL_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".jfif": "JPEG", ".jpe": "JPEG", ".png": "PNG", ".apng": "PNG",
               ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF", ".heic": "HEIF", ".heif": "HEIF", ".avif": "AVIF",
               ".gif": "GIF"}  # fmt: skip
MIN_SIDE = 8
MAX_PIXELS = int(os.environ.get("LOWFACE_MAX_PIXELS", 200_000_000))

Image.MAX_IMAGE_PIXELS = None  # we check the header ourselves, with a clearer message


class ImageReadError(ValueError):
    """A file that cannot be read as an image; the message names the file and the reason, on one line (a codec's
    own message may span several: libheif's ends in a line break)."""

    def __init__(self, path: str | Path, reason: str):
        reason = " ".join(reason.split())
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


@dataclass(frozen=True)
class ImageData:
    """A decoded image. rgb: (H, W, 3) float32 in [0, 1]; alpha: (H, W) float32 in [0, 1] or None; exif: the EXIF
    block (orientation already applied and reset to 1) or None; icc: the ICC colour profile or None; xmp: the XMP
    packet (:func:`lowface.io.metadata.read_xmp`) or None; iptc: a JPEG's IPTC-IIM records or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    grayscale: bool = False
    exif: bytes | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None

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


TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # little / big endian, classic and BigTIFF


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
    return from_channels(pixels, 16, bgr=False)


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


def split_channels(data: np.ndarray, bgr: bool) -> tuple[np.ndarray, np.ndarray | None, bool]:
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


def from_channels(pixels: np.ndarray, bit_depth: int, bgr: bool) -> ImageData:
    """(H, W) or (H, W, 1..4) integer array -> ImageData."""
    scale = 65535.0 if bit_depth == 16 else 255.0
    rgb, alpha, grayscale = split_channels(pixels.astype(np.float32) / scale, bgr)
    return ImageData(rgb, alpha, bit_depth, grayscale)


def read_image(path: str | Path) -> ImageData:
    """Read JPEG/PNG/BMP/TIFF/WebP/HEIC (8/16-bit, gray, RGBA, EXIF-rotated) or camera RAW -> ImageData.

    Raises ImageReadError naming the file for: missing/empty/non-image/truncated files, images smaller than
    8x8, images over LOWFACE_MAX_PIXELS (200 MP by default), refused from the header before decoding, animations
    (GIF, APNG, animated WebP: :mod:`lowface.io.animation`) and TIFFs of several full-size pages, whose other frames
    or pages a still would drop (a TIFF's reduced-resolution preview page is not one).
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
    heif_support()
    try:
        header = Image.open(io.BytesIO(raw))
    except UnidentifiedImageError:
        if raw[:4] in TIFF_MAGIC:  # Pillow reads 1-32-bit integer samples, not floating point (HDR merges, editors)
            raise ImageReadError(path, "a TIFF whose samples cannot be read (floating point, or another layout "
                                       "Pillow lacks): save it as an 8- or 16-bit integer TIFF") from None  # fmt: skip
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
    several = several_images(header)
    if several is not None:
        raise ImageReadError(path, several)
    orientation, exif = read_exif(header)
    xmp = read_xmp(header)
    icc = header.info.get("icc_profile") or None
    if header.mode in ("CMYK", "LAB"):  # the pixels become RGB here: the file's CMYK or Lab profile would no longer
        icc = None  # describe them (an RGB file tagged CMYK confuses viewers)
    try:
        if header.format == "HEIF" and header.info.get("bit_depth", 8) > 8:  # phones' 10-bit HEIF, cameras' HIF
            pixels, hdr = read_deep_heif(raw)
            data, icc = from_channels(pixels, 16, bgr=False), None if hdr else icc
        elif _is_sixteen_bit(header, raw):
            pixels = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
            if pixels is None:
                raise ValueError("decoder failed (truncated or corrupt data)")
            if pixels.dtype != np.uint16:
                pixels = np.clip(pixels, 0, 1) * 65535 if pixels.dtype.kind == "f" else pixels
                pixels = pixels.astype(np.uint16)
            data = from_channels(pixels, 16, bgr=True)
        else:
            header.load()
            if header.format == "TIFF":
                orientation = 1  # Pillow's TIFF decoder turns the pixels itself
            image = header
            if image.mode not in ("L", "LA", "RGB", "RGBA"):
                has_alpha = "A" in image.mode or "transparency" in image.info
                image = image.convert("RGBA" if has_alpha else "RGB")
            data = from_channels(np.asarray(image), 8, bgr=False)
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(path, f"corrupt or truncated image data ({exc})") from None
    if orientation != 1:
        alpha = None if data.alpha is None else _apply_orientation(data.alpha, orientation)
        data = replace(data, rgb=_apply_orientation(data.rgb, orientation), alpha=alpha)
    return replace(data, exif=exif, icc=icc, xmp=xmp, iptc=read_iptc(header))


def quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    scale = 65535.0 if bit_depth == 16 else 255.0
    return np.round(np.clip(values, 0.0, 1.0) * scale).astype(np.uint16 if bit_depth == 16 else np.uint8)


def encode_image(data: ImageData, suffix: str, quality: int = 95) -> bytes:
    """Encode ImageData for a file suffix (.png, .jpg, ...), with its EXIF, ICC profile and XMP where the format holds
    them (not BMP; not 16-bit TIFF). Deep only where the format allows it (16-bit PNG and TIFF, 10-bit HEIC)."""
    suffix = suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise ValueError(f"unsupported output format {suffix!r}; use one of {sorted(WRITABLE_SUFFIXES)}")
    bit_depth = data.bit_depth if suffix in SIXTEEN_BIT_SUFFIXES else 8
    keep_alpha = data.alpha is not None and PIL_FORMATS.get(suffix) != "JPEG" and suffix != ".bmp"
    color = (data.rgb @ np.asarray([0.299, 0.587, 0.114], np.float32))[..., None] if data.grayscale else data.rgb
    planes = np.concatenate([color, data.alpha[..., None]], axis=2) if keep_alpha else color
    pixels = quantize(planes, bit_depth)
    if bit_depth == 8 and suffix in PIL_FORMATS:
        encoded = _encode_with_pil(pixels, PIL_FORMATS[suffix], data, quality)
        return with_iptc(encoded, data.iptc) if data.iptc and PIL_FORMATS[suffix] == "JPEG" else encoded
    if PIL_FORMATS.get(suffix) == "HEIF":
        return encode_deep_heif(pixels, quality, data.exif, data.icc, data.xmp)
    if pixels.shape[2] >= 3:  # OpenCV wants BGR(A)
        pixels = pixels[..., [2, 1, 0, *range(3, pixels.shape[2])]]
    ok, buffer = cv2.imencode(suffix, np.ascontiguousarray(pixels.squeeze(2) if pixels.shape[2] == 1 else pixels))
    if not ok:
        raise ValueError(f"OpenCV could not encode a {suffix} image")
    if suffix == ".png":
        return _with_png_metadata(buffer.tobytes(), data)
    return buffer.tobytes()


def _encode_with_pil(pixels: np.ndarray, pil_format: str, data: ImageData, quality: int) -> bytes:
    """8-bit (H, W, 1..4) pixels -> file bytes, with EXIF, ICC and XMP where the format holds them."""
    if not heif_support() and pil_format == "HEIF":
        raise RuntimeError("writing HEIC/HEIF needs pillow-heif: pip install pillow-heif")
    image = Image.fromarray(pixels.squeeze(2) if pixels.shape[2] == 1 else pixels)
    options: dict[str, Any] = {}
    if data.exif and pil_format != "GIF":
        options["exif"] = data.exif
    if data.xmp and pil_format in ("JPEG", "WEBP", "HEIF", "AVIF"):
        options["xmp"] = data.xmp
    elif data.xmp and pil_format == "PNG":
        options["pnginfo"] = PngImagePlugin.PngInfo()
        options["pnginfo"].add_itxt("XML:com.adobe.xmp", data.xmp.decode())
    elif data.xmp and pil_format == "TIFF":  # a TIFF's EXIF block is its tags: the XMP goes in as its own
        exif = Image.Exif()
        exif.load(data.exif or b"")
        exif[XMP_TAG] = data.xmp
        options["exif"] = exif.tobytes()
    if data.icc and pil_format != "GIF":
        options["icc_profile"] = data.icc
    if pil_format in ("JPEG", "WEBP", "HEIF", "AVIF"):
        options["quality"] = quality
    if pil_format == "PNG":
        options["compress_level"] = 3
    buffer = io.BytesIO()
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")


def _with_png_metadata(png: bytes, data: ImageData) -> bytes:
    """Insert iCCP, eXIf and XMP (iTXt) chunks right after IHDR (where PNG wants them: before the image data)."""
    chunks = b""
    if data.icc:
        chunks += _png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(data.icc))
    if data.exif:
        chunks += _png_chunk(b"eXIf", data.exif.removeprefix(b"Exif\0\0"))
    if data.xmp:
        chunks += _png_chunk(b"iTXt", png_text_chunk("XML:com.adobe.xmp", data.xmp))
    end_of_header = 8 + 4 + 4 + 13 + 4  # signature, IHDR length, type, payload, CRC
    return png[:end_of_header] + chunks + png[end_of_header:]


def write_image(path: str | Path, data: ImageData, quality: int = 95) -> None:
    """Atomically write ImageData; the format follows the suffix."""
    atomic_write_bytes(path, encode_image(data, Path(path).suffix, quality))
