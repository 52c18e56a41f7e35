"""Image files that hold several images, which a still's path would cut to its first: animations (GIF, APNG,
animated WebP and AVIF, read whole by :mod:`lowface.io.animation`) and TIFFs of several full-size pages (a scan or a
stack). A camera JPEG's MPO preview frame and a TIFF's reduced-resolution preview page are not other images."""

from __future__ import annotations

from PIL import Image

ANIMATED_FORMATS = ("GIF", "PNG", "WEBP", "AVIF")


def is_animation(image: Image.Image) -> bool:
    """Whether an opened image file is an animated GIF, APNG, WebP or AVIF."""
    return image.format in ANIMATED_FORMATS and bool(getattr(image, "is_animated", False))


def full_size_pages(tiff: Image.Image) -> int:
    """How many pages of an opened TIFF are full images of one size (a page marked as a reduced-resolution version
    of another, the preview that cameras and scanners add, is not counted); the file is left at its first page."""
    sizes = []
    for page in range(getattr(tiff, "n_frames", 1)):
        tiff.seek(page)
        if not int(tiff.tag_v2.get(254, 0)) & 1:  # NewSubfileType bit 0: a reduced-resolution version
            sizes.append(tiff.size)
    tiff.seek(0)
    return sum(size == sizes[0] for size in sizes) if sizes else 1


def several_images(image: Image.Image) -> str | None:
    """Why an opened image file cannot be read as one still image (it holds several), or None where it can."""
    if is_animation(image):
        return (
            f"an animated {image.format} of {image.n_frames} frames, not a still (its first frame alone would lose the "
            "others): lowface enhance reads every frame, and so does lowface.io.animation.read_animation"
        )
    pages = full_size_pages(image) if image.format == "TIFF" else 1
    if pages > 1:
        return (
            f"a TIFF of {pages} full-size pages, not a single image (its first page alone would lose the others): "
            "split it into one file a page first"
        )
    return None
