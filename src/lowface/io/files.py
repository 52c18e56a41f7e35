"""Which files are images and videos (read, and written, and as what), and atomic file writes: readers never see a
partial file, and a failed write leaves nothing behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# (.jfif: what some browsers save a JPEG as; .apng: an animated PNG)
WRITABLE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".jpe", ".png", ".apng", ".bmp", ".tif", ".tiff", ".webp",
                               ".heic", ".heif", ".avif", ".gif"})  # fmt: skip
LOSSY_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".jpe", ".webp", ".heic", ".heif", ".avif"})  # at a quality
RAW_SUFFIXES = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw"})
IMAGE_SUFFIXES = WRITABLE_SUFFIXES | RAW_SUFFIXES
# formats that keep a deep image deep: 16-bit PNG and TIFF, 10-bit HEIC
SIXTEEN_BIT_SUFFIXES = frozenset({".png", ".tif", ".tiff", ".heic", ".heif"})
RAW_OUTPUT_SUFFIX = ".tif"  # a developed RAW is written as 16-bit TIFF (no RAW writer exists)
WRITABLE_VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
# read, written as VIDEO_OUTPUT_SUFFIX: camcorders' AVCHD (.mts, .m2ts), broadcast and CCTV exports (.ts, .mpg, .wmv,
# .asf), old phones (.3gp), the web's (.flv, .ogv), raw H.264 / HEVC streams from CCTV recorders
READ_ONLY_VIDEO_SUFFIXES = frozenset({".mts", ".m2ts", ".ts", ".mpg", ".mpeg", ".vob", ".wmv", ".asf", ".3gp", ".flv",
                                      ".ogv", ".h264", ".264", ".h265", ".265", ".hevc"})  # fmt: skip
VIDEO_SUFFIXES = WRITABLE_VIDEO_SUFFIXES | READ_ONLY_VIDEO_SUFFIXES
VIDEO_OUTPUT_SUFFIX = ".mp4"


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


def output_suffix(source: str | Path) -> str:
    """The suffix an enhanced copy of ``source`` gets by default: its own, .tif for camera RAW, .mp4 for a video
    container that is read but not written (.mts, .ts, .wmv, a raw H.264 stream, ...)."""
    suffix = Path(source).suffix
    if suffix.lower() in RAW_SUFFIXES:
        return RAW_OUTPUT_SUFFIX
    return VIDEO_OUTPUT_SUFFIX if suffix.lower() in READ_ONLY_VIDEO_SUFFIXES else suffix
