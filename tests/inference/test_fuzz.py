"""Property-based and fuzz tests of every door bad input can come through: the image decoders, the API,
the config loader and the CLI (corrupt files, odd names, read-only and full disks)."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import lowface
from conftest import smooth_test_image
from lowface.cli import main
from lowface.io import ImageData, ImageReadError, read_image, write_image
from lowface.io.heif import heif_support
from lowface.train.config import TrainConfig, load_config

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUFFIXES = [".png", ".jpg", ".jpeg", ".bmp", ".tif", ".webp", ".gif", ".heic", ".avif", ".txt", ""]
heif_support()  # HEIC through PIL, as lowface.io reads it


def _valid_file(fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "HEIF-10":  # a 10-bit HEIC (read through its own, deep path)
        deep = (smooth_test_image(24, 32) * 65535).astype(np.uint16).tobytes()
        pillow_heif.from_bytes(mode="RGB;16", size=(32, 24), data=deep).save(buffer, format="HEIF")
    else:
        Image.fromarray((smooth_test_image(24, 32) * 255).astype(np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


VALID = {fmt: _valid_file(fmt) for fmt in ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "AVIF", "HEIF", "HEIF-10")}


def assert_decodes_or_names_the_file(path: Path) -> None:
    """Either a finite image in [0, 1] or an ImageReadError of one line naming the file - nothing else."""
    try:
        data = read_image(path)
    except ImageReadError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        assert data.rgb.ndim == 3 and data.rgb.shape[2] == 3
        assert np.isfinite(data.rgb).all() and data.rgb.min() >= 0 and data.rgb.max() <= 1


@FUZZ
@given(payload=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_with_any_extension(tmp_path: Path, payload: bytes, suffix: str):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(payload)
    assert_decodes_or_names_the_file(path)


@FUZZ
@given(
    fmt=st.sampled_from(sorted(VALID)),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
    suffix=st.sampled_from(SUFFIXES),
)
def test_truncated_and_bit_flipped_real_files(tmp_path: Path, fmt: str, cut: float, flips: list, suffix: str):
    payload = bytearray(VALID[fmt][: max(1, int(len(VALID[fmt]) * cut))] if cut < 0.999 else VALID[fmt])
    for where, value in flips:
        payload[min(int(where * len(payload)), len(payload) - 1)] = value
    path = tmp_path / f"damaged{suffix}"
    path.write_bytes(bytes(payload))
    assert_decodes_or_names_the_file(path)


@FUZZ
@given(
    shape=st.tuples(st.integers(8, 24), st.integers(8, 24)),
    bad=st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    where=st.tuples(st.floats(0, 0.99), st.floats(0, 0.99)),
    as_tensor=st.booleans(),
)
def test_nan_and_inf_in_the_api_are_refused_clearly(shape, bad, where, as_tensor):
    image = np.full((*shape, 3), 0.2, np.float32)
    image[int(where[0] * shape[0]), int(where[1] * shape[1]), 1] = bad
    value = torch.from_numpy(image).permute(2, 0, 1) if as_tensor else image
    with pytest.raises(ValueError, match="NaN or Inf"):
        lowface.enhance(value, model="gamma")


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@FUZZ
@given(text=st.text(max_size=300))
def test_any_text_as_a_config_file(tmp_path: Path, text: str):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    try:
        config = load_config(path)
    except ValueError as exc:
        assert str(path) in str(exc)
    else:
        assert isinstance(config, TrainConfig)


@FUZZ
@given(values=st.dictionaries(st.sampled_from(["steps", "crop", "lr", "batch_size", "ratio_range", "model",
                                               "loss_weights", "seed", "max_minutes", "train_only", "threads"]),
                              YAML_VALUES, min_size=1, max_size=3))  # fmt: skip
def test_wrongly_typed_config_values_are_refused_by_name(tmp_path: Path, values: dict):
    import yaml

    path = tmp_path / "typed.yaml"
    path.write_text(yaml.safe_dump(values))
    try:
        config = load_config(path)
    except ValueError as exc:
        assert str(path) in str(exc)
    else:  # accepted: then every value has the declared type
        assert isinstance(config.steps, int) and isinstance(config.lr, float) and isinstance(config.model, dict)
        assert all(isinstance(v, float) for v in config.loss_weights.values())


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture()
def odd_tree(tmp_path: Path) -> Path:
    """Unicode and spaces in names, two good images, a corrupt one, a truncated one, a zero-size one."""
    root = tmp_path / "entrée photos"
    write_image(root / "nuit été 1.png", ImageData(smooth_test_image() * 0.2))
    write_image(root / "日本" / "夜 2.jpg", ImageData(smooth_test_image(seed=3) * 0.2))
    (root / "cassé.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "coupé.jpg").write_bytes(VALID["JPEG"][:200])
    (root / "vide.png").write_bytes(b"")
    return root


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


@pytest.mark.slow
def test_unicode_corrupt_truncated_and_empty_files_in_one_batch(odd_tree: Path, tmp_path: Path):
    out = tmp_path / "sortie ✓"
    result = run_cli("enhance", str(odd_tree), "-o", str(out), "-m", "gamma", "-q")
    assert result.exit_code == 1
    assert (out / "nuit été 1.png").is_file() and (out / "日本" / "夜 2.jpg").is_file()
    for name in ("cassé.png", "coupé.jpg", "vide.png"):
        assert not (out / name).exists() and name in result.output
    assert "2 enhanced" in result.output and "3 failed" in result.output and not leftovers(out)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "reason"), [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")]
)
def test_full_or_read_only_disk_fails_that_file_only_and_leaves_no_partial_output(
    odd_tree: Path, tmp_path: Path, monkeypatch, code: int, reason: str
):
    """The disk refuses the second write (simulated: tests may run as root, where permissions do not bind)."""
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(code, reason)
        real_fsync(fd)

    monkeypatch.setattr("lowface.io.files.os.fsync", failing_fsync)
    out = tmp_path / "out"
    result = run_cli("enhance", str(odd_tree), "-o", str(out), "-m", "gamma", "-q")
    assert result.exit_code == 1 and reason in result.output
    written = sorted(p.name for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    records = sorted(p.name for p in out.rglob(".*.lowface.json"))
    assert len(written) == 1 and not leftovers(out)  # one of the two good images; the other failed cleanly
    assert records == [f".{written[0]}.lowface.json"]  # no record without its output
    monkeypatch.undo()
    rerun = run_cli("enhance", str(odd_tree), "-o", str(out), "-m", "gamma", "-q")  # the rerun completes it
    visible = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert "1 enhanced, 1 skipped" in rerun.output and len(visible) == 2
