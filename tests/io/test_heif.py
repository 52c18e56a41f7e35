"""HEIC / HEIF: 10-bit photos read and written at their depth, PQ photos brought to SDR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from lowface.io import ImageData, read_image, write_image

pillow_heif = pytest.importorskip("pillow_heif")


def ten_bit_heic(path: Path, pixels: np.ndarray, **options) -> Path:
    """(H, W, 3) float pixels in [0, 1] -> a 10-bit HEIC file (pillow-heif writes 16-bit data at 10 bits)."""
    height, width = pixels.shape[:2]
    data = (pixels * 65535).round().astype(np.uint16).tobytes()
    pillow_heif.from_bytes(mode="RGB;16", size=(width, height), data=data).save(path, quality=95, **options)
    return path


def dark_ramp(height: int = 32, width: int = 256) -> np.ndarray:
    """A grey ramp from 0 to 0.1: 26 levels at 8 bits, 103 at 10."""
    return np.repeat(np.tile(np.linspace(0, 0.1, width, dtype=np.float32), (height, 1))[..., None], 3, axis=2)


def test_a_ten_bit_heic_is_read_at_its_depth_and_written_back_at_it(tmp_path: Path):
    """Read at 8 bits (as before), a dark 10-bit photo lost three quarters of its shadow levels: banding once
    brightened."""
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = ten_bit_heic(tmp_path / "dark.heic", dark_ramp(), exif=exif.tobytes(), icc_profile=icc)
    eight_bit_levels = len(np.unique(np.asarray(pillow_heif.open_heif(source))[..., 1]))
    data = read_image(source)
    assert data.bit_depth == 16 and data.icc == icc and data.exif is not None
    assert len(np.unique(data.rgb[..., 1])) > 3 * eight_bit_levels
    assert np.abs(data.rgb - dark_ramp()).max() < 3 / 1023  # lossy HEVC at quality 95
    write_image(tmp_path / "out.heic", data)
    written = pillow_heif.open_heif(tmp_path / "out.heic", convert_hdr_to_8bit=False)
    assert written.info["bit_depth"] == 10
    back = read_image(tmp_path / "out.heic")
    kept = Image.Exif()
    kept.load(back.exif)
    assert back.icc == icc and kept[0x010F] == "TestCam"
    assert np.abs(back.rgb - data.rgb).max() < 3 / 1023
    white = read_image(ten_bit_heic(tmp_path / "white.heic", np.ones((16, 16, 3), np.float32)))
    assert white.rgb.min() == 1.0  # 10-bit white is 1.0, not 65472 / 65535


@pytest.mark.parametrize("channels", [1, 2, 4])
def test_deep_grey_and_transparent_images_are_written_as_ten_bit_heic(tmp_path: Path, channels: int):
    rgb = np.repeat(dark_ramp(16, 64)[..., :1], 3, axis=2) if channels <= 2 else dark_ramp(16, 64) * [1, 0.8, 0.6]
    alpha = np.linspace(0, 1, 64, dtype=np.float32)[None].repeat(16, 0) if channels in (2, 4) else None
    write_image(tmp_path / "deep.heic", ImageData(rgb.astype(np.float32), alpha, 16, grayscale=channels <= 2))
    back = read_image(tmp_path / "deep.heic")
    assert back.bit_depth == 16 and np.abs(back.rgb - rgb).max() < 3 / 1023
    assert (back.alpha is not None) == (alpha is not None)


def test_a_pq_heic_is_brought_to_sdr_and_loses_its_hdr_tags(tmp_path: Path):
    """100 cd/m2 is PQ signal 0.5081; in SDR with white at 203 cd/m2 (BT.2408) it is (100 / 203) ** (1 / 2.4) =
    0.7444. Read as its code values (before), the photo was 0.508: dull."""
    pq = {"color_primaries": 9, "transfer_characteristics": 16, "matrix_coefficients": 9, "full_range_flag": 1}
    source = ten_bit_heic(tmp_path / "hdr.heic", np.full((16, 16, 3), 0.5081, np.float32), nclx_profile=pq)
    data = read_image(source)
    assert data.bit_depth == 16 and data.icc is None
    assert np.abs(data.rgb - 0.7444).max() < 0.005
