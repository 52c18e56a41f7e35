"""Files in and out: image codec (:mod:`.image`), array and tensor conversions (:mod:`.arrays`), atomic writes
(:mod:`.files`) and video (:mod:`lowface.io.video`, imported on its own: it loads PyAV).

Inside lowface an image is float RGB in [0, 1], shape (B, 3, H, W).
"""

from lowface.io.arrays import (
    Restore,
    as_float,
    image_to_tensor,
    pixels_to_tensor,
    pixels_to_uint8,
    tensor_to_image,
    tensor_to_uint8,
    to_batch,
    to_uint8,
)
from lowface.io.files import (
    IMAGE_SUFFIXES,
    LOSSY_SUFFIXES,
    RAW_SUFFIXES,
    SIXTEEN_BIT_SUFFIXES,
    VIDEO_SUFFIXES,
    WRITABLE_SUFFIXES,
    atomic_write_bytes,
    output_suffix,
)
from lowface.io.image import (
    MAX_PIXELS,
    MIN_SIDE,
    ImageData,
    ImageReadError,
    decode_image,
    encode_image,
    read_image,
    write_image,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "LOSSY_SUFFIXES",
    "MAX_PIXELS",
    "MIN_SIDE",
    "RAW_SUFFIXES",
    "SIXTEEN_BIT_SUFFIXES",
    "VIDEO_SUFFIXES",
    "WRITABLE_SUFFIXES",
    "ImageData",
    "ImageReadError",
    "Restore",
    "as_float",
    "atomic_write_bytes",
    "decode_image",
    "encode_image",
    "image_to_tensor",
    "output_suffix",
    "pixels_to_tensor",
    "pixels_to_uint8",
    "read_image",
    "tensor_to_image",
    "tensor_to_uint8",
    "to_batch",
    "to_uint8",
    "write_image",
]  # fmt: skip
