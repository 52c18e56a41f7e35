"""Image I/O: formats, bit depths, gray, alpha, EXIF orientation, atomic writes, and clear errors."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import assert_close, smooth_test_image
from lowface.io import ImageData, ImageReadError, read_image, write_image
from lowface.io.animation import read_animation


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jfif", ".bmp", ".tif", ".webp", ".avif"])
def test_eight_bit_round_trip(tmp_path: Path, suffix: str):
    rgb = smooth_test_image()
    path = tmp_path / f"img{suffix}"
    write_image(path, ImageData(rgb), quality=100)
    back = read_image(path)
    assert back.rgb.shape == rgb.shape and back.bit_depth == 8 and back.alpha is None
    if suffix in (".png", ".bmp", ".tif"):  # lossless: within half an 8-bit step
        assert np.abs(back.rgb - rgb).max() <= 0.5 / 255 + 1e-6
    else:  # lossy: close on average (chroma subsampling blurs the sharp stripes), colours in RGB order
        assert np.abs(back.rgb - rgb).mean() < 0.05
        red = np.zeros((16, 16, 3), np.float32)
        red[..., 0] = 1
        write_image(path, ImageData(red), quality=100)
        assert np.abs(read_image(path).rgb.mean((0, 1)) - [1, 0, 0]).max() < 0.02


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_round_trip_keeps_precision(tmp_path: Path, suffix: str):
    rgb = smooth_test_image()
    path = tmp_path / f"img16{suffix}"
    write_image(path, ImageData(rgb, bit_depth=16))
    back = read_image(path)
    assert back.bit_depth == 16
    assert np.abs(back.rgb - rgb).max() <= 0.5 / 65535 + 1e-6  # far finer than 8-bit steps


def test_sixteen_bit_file_written_by_opencv_is_read_in_rgb_order(tmp_path: Path):
    bgr = np.zeros((16, 16, 3), np.uint16)
    bgr[..., 2] = 65535  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    back = read_image(tmp_path / "red.png")
    assert back.bit_depth == 16
    assert_close(back.rgb[0, 0], [1, 0, 0], rtol=1e-5, atol=1e-8)


def test_grayscale_stays_grayscale(tmp_path: Path):
    gray = (np.arange(32 * 40).reshape(32, 40) % 256).astype(np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    data = read_image(tmp_path / "g.png")
    assert data.grayscale
    assert_close(data.rgb[..., 0], data.rgb[..., 2], rtol=1e-5, atol=1e-8)
    write_image(tmp_path / "out.png", data)
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "L"
        assert np.array_equal(np.asarray(out), gray)


def test_a_cmyk_jpeg_becomes_rgb_without_its_cmyk_profile_and_an_rgb_profile_is_kept(tmp_path: Path):
    """The pixels of a CMYK JPEG are read as RGB: its CMYK profile no longer describes them and is not carried to
    the output (an RGB JPEG tagged CMYK); an sRGB profile is carried through a round trip as before."""
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    cmyk = srgb[:16] + b"CMYK" + srgb[20:]  # the header's colour space field says CMYK
    pixels = np.round(smooth_test_image(32, 40) * 200).astype(np.uint8)
    Image.fromarray(pixels).convert("CMYK").save(tmp_path / "print.jpg", icc_profile=cmyk)
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", icc_profile=srgb)
    printed = read_image(tmp_path / "print.jpg")
    assert printed.rgb.shape == (32, 40, 3) and printed.icc is None
    write_image(tmp_path / "out.jpg", printed)
    assert "icc_profile" not in Image.open(tmp_path / "out.jpg").info
    photo = read_image(tmp_path / "photo.jpg")
    write_image(tmp_path / "out2.jpg", photo)
    assert photo.icc == srgb and Image.open(tmp_path / "out2.jpg").info["icc_profile"] == srgb


def test_alpha_is_kept_untouched(tmp_path: Path):
    rgba = np.zeros((20, 24, 4), np.uint8)
    rgba[..., :3] = 60
    rgba[..., 3] = np.arange(24, dtype=np.uint8)[None, :] * 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    data = read_image(tmp_path / "a.png")
    assert data.alpha is not None
    write_image(tmp_path / "b.png", data.with_rgb(data.rgb * 2))
    with Image.open(tmp_path / "b.png") as out:
        assert out.mode == "RGBA"
        assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])


def test_exif_orientation_is_applied(tmp_path: Path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(tmp_path / "rot.jpg", exif=exif, quality=100)
    data = read_image(tmp_path / "rot.jpg")
    assert data.size == (40, 20)
    assert data.rgb[:18].mean() > 0.9 and data.rgb[22:].mean() < 0.1  # the white half is now on top


def test_write_is_atomic_and_leaves_no_partial_file(tmp_path: Path):
    data = ImageData(smooth_test_image())
    with pytest.raises(ValueError, match="unsupported output format"):
        write_image(tmp_path / "x.tga", data)
    assert list(tmp_path.iterdir()) == []


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _huge_png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height but carries only a few bytes of pixel data (a bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = tmp_path / "good.jpg"
    write_image(good, ImageData(smooth_test_image(64, 64)))
    cases = {
        "truncated": (good.read_bytes()[: len(good.read_bytes()) // 2], "truncated"),
        "empty": (b"", "empty"),
        "not_an_image": (b"hello, I am text, not pixels\n" * 10, "not an image"),
        "tiny": (None, "1x1"),
        "huge": (_huge_png_header(20000, 20000), "20000x20000"),
        "float_tiff": (None, "a TIFF whose samples cannot be read (floating point"),  # (an HDR merge, an editor's)
        "truncated_heic": (None, "corrupt or truncated image data (Invalid input"),  # (libheif's ends in a line break)
    }
    paths = {}
    for name, (payload, reason) in cases.items():
        path = tmp_path / {"truncated": "truncated.jpg", "float_tiff": "merge.tif",
                           "truncated_heic": "cut.heic"}.get(name, f"{name}.png")  # fmt: skip
        if name == "tiny":
            Image.new("RGB", (1, 1)).save(path)
        elif name == "float_tiff":
            import tifffile

            tifffile.imwrite(path, smooth_test_image(32, 32).astype(np.float32), photometric="rgb")
        elif name == "truncated_heic":  # a 10-bit HEIC, cut in half
            import pillow_heif

            deep = (smooth_test_image(64, 64) * 65535).astype(np.uint16).tobytes()
            pillow_heif.from_bytes(mode="RGB;16", size=(64, 64), data=deep).save(path, quality=90)
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        else:
            path.write_bytes(payload)
        paths[name] = (path, reason)
    return paths


@pytest.mark.parametrize("case", ["truncated", "empty", "not_an_image", "tiny", "huge", "float_tiff", "truncated_heic"])
def test_bad_inputs_get_one_line_error_naming_the_file(tmp_path: Path, case: str):
    path, reason = _bad_inputs(tmp_path)[case]
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    message = str(info.value)
    assert str(path) in message and reason in message and "\n" not in message
    print(message)


@pytest.mark.parametrize("suffix", [".webp", ".png", ".apng", ".gif", ".avif"])
def test_an_animation_is_not_read_as_a_still_cut_to_its_first_frame(tmp_path: Path, suffix: str):
    """An animated WebP, APNG, GIF or AVIF read as a still would come back as its first frame alone: refused, naming the
    file and its frame count (lowface.io.animation reads it whole); the same file with one frame, and a camera JPEG
    with an MPO preview, read as stills."""
    frames = [Image.fromarray(np.full((16, 24, 3), 40 * i, np.uint8)) for i in range(1, 4)]
    animated, still = tmp_path / f"animated{suffix}", tmp_path / f"still{suffix}"
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(still)
    with pytest.raises(ImageReadError, match=rf"animated{re.escape(suffix)}: an animated \w+ of 3 frames"):
        read_image(animated)
    assert read_image(still).rgb.shape == (16, 24, 3)
    whole = read_animation(animated)
    assert len(whole.frames) == 3 and whole.durations == [100] * 3 and whole.loop == 0
    assert np.abs(np.array([int(f[0, 0, 0]) for f in whole.frames]) - [40, 80, 120]).max() <= 2  # (AVIF: lossy)
    mpo = tmp_path / "camera.jpg"
    frames[0].save(mpo, format="MPO", save_all=True, append_images=frames[1:2])
    assert Image.open(mpo).format == "MPO" and read_image(mpo).rgb.shape == (16, 24, 3)


def test_a_tiff_of_several_pages_is_refused_but_one_with_a_preview_page_reads(tmp_path: Path):
    """A multi-page TIFF (a scan or a stack) as a still would come back as its first page alone: refused, naming
    the file and its page count. A second, smaller page (a camera's or scanner's preview) does not count."""
    full = [Image.fromarray(np.full((40, 60, 3), level, np.uint8)) for level in (30, 60, 90)]
    full[0].save(tmp_path / "stack.tif", save_all=True, append_images=full[1:])
    full[0].save(tmp_path / "preview.tif", save_all=True, append_images=[full[1].resize((15, 10))])
    with pytest.raises(ImageReadError, match=r"stack\.tif: a TIFF of 3 full-size pages"):
        read_image(tmp_path / "stack.tif")
    assert read_image(tmp_path / "preview.tif").rgb.mean() == pytest.approx(30 / 255)


def test_missing_file_error_names_it(tmp_path: Path):
    with pytest.raises(ImageReadError, match=r"missing\.png: cannot read file"):
        read_image(tmp_path / "missing.png")


def test_written_files_get_the_permissions_of_a_plain_open(tmp_path: Path):
    from lowface.io.files import UMASK, atomic_write_bytes

    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    atomic_write_bytes(tmp_path / "atomic.bin", b"x")
    write_image(tmp_path / "image.png", ImageData(smooth_test_image()))
    expected = 0o666 & ~UMASK
    assert (plain.stat().st_mode & 0o777) == expected  # what the user's umask gives
    assert ((tmp_path / "atomic.bin").stat().st_mode & 0o777) == expected
    assert ((tmp_path / "image.png").stat().st_mode & 0o777) == expected  # not mkstemp's 0600


def test_decoded_frames_convert_to_the_same_tensor_as_the_float_path():
    """A decoded video frame, 8- or 16-bit: one converting copy gives exactly image_to_tensor(as_float(...)),
    contiguous in torch's layout; anything but an (H, W, 3) uint8 or uint16 array is refused by name; back to 8 bits,
    16-bit pixels round to the nearest level."""
    from lowface.io import as_float, image_to_tensor, pixels_to_tensor, pixels_to_uint8

    rgb = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    x = pixels_to_tensor(rgb)
    assert x.shape == (1, 3, 37, 53) and x.is_contiguous()
    assert x.equal(image_to_tensor(as_float(rgb))) and x[0, :, 5, 7].mul(255).round().tolist() == list(rgb[5, 7])
    deep = np.random.default_rng(1).integers(0, 65536, (37, 53, 3), dtype=np.uint16)
    deep[0, 0] = (0, 32768, 65535)
    y = pixels_to_tensor(deep)
    assert y.equal(image_to_tensor(as_float(deep)))
    assert y[0, :, 0, 0].tolist() == [0.0, float(np.float32(32768 / 65535)), 1.0]
    assert pixels_to_uint8(deep)[0, 0].tolist() == [0, 128, 255] and pixels_to_uint8(rgb) is rgb
    assert np.array_equal(pixels_to_uint8(deep), np.round(deep / 257.0).astype(np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 or uint16 image, got float32"):
        pixels_to_tensor(rgb.astype(np.float32))


def test_enhanced_frames_become_the_same_eight_bits_on_the_worker_as_in_the_writer():
    """tensor_to_uint8 (what a video worker hands the encoder) gives to_uint8's values of the float image: clipped to
    [0, 1], halves rounded to even (0.5 / 255 -> 0, 1.5 / 255 -> 2, 2.5 / 255 -> 2), as one contiguous (H, W, 3) array
    in RGB order."""
    import torch

    from lowface.io import tensor_to_image, tensor_to_uint8
    from lowface.io.arrays import to_uint8

    image = torch.rand(3, 19, 23, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.1
    image[:, 0, :3] = torch.tensor([0.5, 1.5, 2.5]) / 255
    image[:, 1, 0] = torch.tensor([-0.3, 0.0, 1.7])
    pixels = tensor_to_uint8(image)
    assert pixels.shape == (19, 23, 3) and pixels.dtype == np.uint8 and pixels.flags["C_CONTIGUOUS"]
    assert np.array_equal(pixels, to_uint8(tensor_to_image(image)))
    assert pixels[0, :3, 0].tolist() == [0, 2, 2] and pixels[1, 0].tolist() == [0, 0, 255]
    assert pixels[4, 7].tolist() == [round(float(c) * 255) for c in image[:, 4, 7].clamp(0, 1)]
