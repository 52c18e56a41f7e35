"""Animated images in and out: GIF, APNG, animated WebP and AVIF, every frame composited as a viewer shows it.

A still's path would keep only the first frame (:func:`lowface.io.image.decode_image` refuses animations for that
reason); ``lowface enhance`` reads them here, enhances the frames in order as a short video
(:class:`lowface.inference.batch.FrameEnhancer`: gate and exposure smoothed, no flicker) and writes the same format
with each frame's duration and the loop count kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from lowface.io.image import MAX_PIXELS, ImageData, ImageReadError, read_image
from lowface.io.multiframe import is_animation

PIL_NAMES = {".gif": "GIF", ".png": "PNG", ".apng": "PNG", ".webp": "WEBP", ".avif": "AVIF"}


@dataclass
class Animation:
    """frames: (H, W, 4) uint8 RGBA, composited; durations: milliseconds each; loop: 0 = forever, n = n times."""

    frames: list[np.ndarray]
    durations: list[int]
    loop: int
    icc: bytes | None = None

    @property
    def has_alpha(self) -> bool:
        return any(bool((frame[..., 3] < 255).any()) for frame in self.frames)


def is_animated(source: str | Path | bytes) -> bool:
    """Whether a file (a path, or its bytes) is an animated GIF, APNG, WebP or AVIF (from its header; False for anything
    else, unreadable files included)."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            return is_animation(image)
    except (OSError, UnidentifiedImageError, ValueError):
        return False


def read_animation(path: str | Path) -> Animation:
    """Every frame of an animated image, composited (RGBA), with its duration; refuses (ImageReadError naming the
    file) an animation of more than LOWFACE_MAX_PIXELS pixels in all, and corrupt frames."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            count, (width, height) = image.n_frames, image.size
            if count * width * height > MAX_PIXELS:
                raise ImageReadError(
                    path,
                    f"an animation of {count} frames of {width}x{height}, over the {MAX_PIXELS:,}-pixel limit in all "
                    "(set LOWFACE_MAX_PIXELS to allow it, or convert it to a video)",
                )
            frames, durations = [], []
            for frame in ImageSequence.Iterator(image):
                frames.append(np.asarray(frame.convert("RGBA")))
                durations.append(int(frame.info.get("duration", image.info.get("duration", 100)) or 0))
            return Animation(frames, durations, int(image.info.get("loop", 0)), image.info.get("icc_profile"))
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(path, f"corrupt or truncated animation ({exc})") from None


def read_still(path: str | Path) -> ImageData:
    """:func:`lowface.io.image.read_image`, or an animation's first frame (RGB and alpha): the one picture that
    stands for it in a preview, a face detection or a comparison."""
    if not is_animated(path):
        return read_image(path)
    with Image.open(path) as image:
        rgba = np.asarray(image.convert("RGBA"), np.float32) / 255
    return ImageData(np.ascontiguousarray(rgba[..., :3]), rgba[..., 3] if (rgba[..., 3] < 1).any() else None)


def encode_animation(animation: Animation, suffix: str, quality: int = 95) -> bytes:
    """An animation's bytes for ``suffix`` (.gif, .png, .webp, .avif): durations and loop kept; alpha kept where
    the frames have any (GIF: one transparent palette entry); GIF frames get an adaptive palette each."""
    pil_format = PIL_NAMES.get(suffix.lower())
    if pil_format is None:
        raise ValueError(f"an animation cannot be written as {suffix!r}; use one of {sorted(PIL_NAMES)}")
    alpha = animation.has_alpha
    mode = "RGBA" if alpha else "RGB"
    images = [Image.fromarray(frame).convert(mode) for frame in animation.frames]
    options: dict = {"save_all": True, "append_images": images[1:], "duration": animation.durations,
                     "loop": animation.loop}  # fmt: skip
    if animation.icc and pil_format != "GIF":
        options["icc_profile"] = animation.icc
    if pil_format in ("WEBP", "AVIF"):
        options["quality"] = quality
    if pil_format == "GIF":
        options["disposal"] = 2 if alpha else 1  # each frame whole: clear (alpha) or draw over
    buffer = io.BytesIO()
    images[0].save(buffer, format=pil_format, **options)
    return buffer.getvalue()
