"""The one-call front door: ``enhance(image)`` with a named model, cached between calls; files and videos with
``output=``."""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from lowface.inference.batch import enhance_image_file, enhance_video_file, image_notices
from lowface.inference.enhancer import DEFAULT_MODEL, Enhancer
from lowface.inference.jobs import Job, OutputOptions
from lowface.io import VIDEO_SUFFIXES
from lowface.io.video_output import encoder_for


@lru_cache(maxsize=4)
def _cached_enhancer(name: str, device: str | None, gate: bool, denoise: float | None) -> Enhancer:
    return Enhancer.from_pretrained(name, device, gate=gate, denoise=denoise)


def enhance(
    image: Any,
    model: str = DEFAULT_MODEL,
    device: str | None = None,
    bgr: bool = False,
    gate: bool = True,
    output: str | Path | None = None,
    denoise: float | None = None,
    temporal_denoise: float | None = None,
) -> Any:
    """One call: enhance ``image`` with a named model (cached between calls); returns the same kind.

    ``image``: a PIL image, NumPy array (``bgr=True`` for OpenCV), tensor, ImageData or a path (-> ImageData).
    With ``output`` the result is written there the way ``lowface enhance`` writes it (atomically, EXIF and ICC
    kept, an image the gate leaves alone copied byte for byte; a video with its audio, timestamps and colour) and the
    output path is returned; ``image`` must then be a path. With ``gate`` (default, as everywhere) a well-exposed
    image comes back unchanged. ``denoise`` in [0, 1] (None: the model's own): the share of the estimated noise the
    restoring network removes (lower keeps more fine grain). ``temporal_denoise`` N (a video only, as the CLI's
    ``--temporal-denoise``): each pixel averaged over up to N past frames along the motion
    (:mod:`lowface.inference.temporal`)."""
    video = isinstance(image, str | Path) and Path(image).suffix.lower() in VIDEO_SUFFIXES
    if temporal_denoise and not video:
        raise ValueError("temporal_denoise averages a video's frames: give a video path and output=")
    if video and output is None:
        raise TypeError(f"{image} is a video: give output= (a video file to write)")
    if video:
        encoder_for(Path(output).suffix)  # a container that is not written is refused before any work
    enhancer = _cached_enhancer(model, device, gate, denoise)
    if output is None:
        result = enhancer.enhance(image, bgr=bgr)
        _say_image_notices(image)
        return result
    if not isinstance(image, str | Path):
        raise TypeError("output= needs image to be a path (write an array yourself with lowface.io.write_image)")
    job = Job(Path(image), Path(output))
    if video:
        enhance_video_file(enhancer, job, OutputOptions(temporal_frames=temporal_denoise or None), show_progress=False)
    elif enhance_image_file(enhancer, job) == "enhanced":
        _say_image_notices(image)
    return Path(output)


def _say_image_notices(image: Any) -> None:
    """An image file's notices (:func:`image_notices`: an HDR photo made SDR) as Python warnings naming it."""
    for notice in image_notices(Path(image)) if isinstance(image, str | Path) else ():
        warnings.warn(f"{image}: {notice}", stacklevel=3)
