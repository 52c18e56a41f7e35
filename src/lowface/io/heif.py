"""HEIC / HEIF photos through pillow-heif: the codec registered with PIL on first use, 10- and 12-bit photos read at
their full depth and deep images written as 10-bit HEIC.

Phones' 10-bit HEIF (Android's "HDR" and "10-bit" modes) and cameras' HIF files hold four or sixteen times the
levels of an 8-bit reading, and a dark photo keeps them in its shadows: read at 8 bits, a dark gradient brightened
four times steps by four levels (banding). Such a photo is read as a 16-bit image and written back at 10 bits (or
as 16-bit PNG / TIFF). A PQ or HLG photo (HDR capture) is brought to SDR BT.709 as HDR video is
(:func:`lowface.io.video_colour.hdr_to_sdr`): the networks were trained on SDR pictures.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np

# pillow-heif's modes for 16-bit data (written at 10 bits), by channel count
DEEP_MODES = {1: "L;16", 2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}


@functools.cache
def heif_support() -> bool:
    """Register pillow-heif's HEIC/HEIF codec with PIL on first use (importing lowface loads no codec library);
    False without pillow-heif (HEIC then reads as an unrecognised format; writing one names the package)."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def hdr_photo(path: str | Path) -> str | None:
    """ "PQ" or "HLG" when ``path`` is a HEIC / HEIF photo with an HDR transfer (its colour profile's), else None
    (any other file, an unreadable one included). Reads the header only."""
    if Path(path).suffix.lower() not in (".heic", ".heif") or not heif_support():
        return None
    from PIL import Image

    from lowface.io.video_colour import HDR_TRANSFERS

    try:
        with Image.open(path) as header:
            return HDR_TRANSFERS.get((header.info.get("nclx_profile") or {}).get("transfer_characteristics"))
    except Exception:  # (an unreadable file is said by the reader)
        return None


def read_deep_heif(raw: bytes) -> tuple[np.ndarray, bool]:
    """A 10- or 12-bit HEIF file's primary image -> ((H, W) or (H, W, 3 | 4) uint16 at full 16-bit scale (white
    65535), whether it was HDR (PQ or HLG, now SDR BT.709: its colour profile no longer describes it))."""
    import pillow_heif

    from lowface.io.video_colour import HDR_TRANSFERS, PRIMARIES_BT2020, SPACE_RGB, VideoColour, hdr_to_sdr

    heif = pillow_heif.open_heif(io.BytesIO(raw), convert_hdr_to_8bit=False, hdr_to_16bit=False)
    levels = 2 ** heif.info["bit_depth"] - 1
    pixels = (np.asarray(heif).astype(np.float32) * (65535 / levels)).round().astype(np.uint16)
    nclx = heif.info.get("nclx_profile") or {}
    transfer = nclx.get("transfer_characteristics")
    if transfer not in HDR_TRANSFERS:
        return pixels, False
    colour = VideoColour(SPACE_RGB, nclx.get("color_primaries", PRIMARIES_BT2020), transfer)
    if pixels.ndim == 2:  # a grey HDR photo: its one channel as the three
        return hdr_to_sdr(np.repeat(pixels[..., None], 3, axis=2), colour)[..., 0], True
    pixels[..., :3] = hdr_to_sdr(np.ascontiguousarray(pixels[..., :3]), colour)
    return pixels, True


def encode_deep_heif(
    pixels: np.ndarray, quality: int, exif: bytes | None = None, icc: bytes | None = None, xmp: bytes | None = None
) -> bytes:
    """(H, W, 1 | 3 | 4) uint16 pixels -> 10-bit HEIC bytes, with the EXIF block, ICC profile and XMP packet given."""
    import pillow_heif

    height, width, channels = pixels.shape
    heif = pillow_heif.from_bytes(mode=DEEP_MODES[channels], size=(width, height), data=pixels.tobytes())
    kept = (("exif", exif), ("icc_profile", icc), ("xmp", xmp))
    options = {key: value for key, value in kept if value}
    buffer = io.BytesIO()
    heif.save(buffer, format="HEIF", quality=quality, **options)
    return buffer.getvalue()
