"""Shared fixtures and helpers: the data root (tests that need it skip with a message when it is absent), tiny images,
the one tolerance check."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lowface.models.int8 import int8_can_run
from lowface.models.precision import bfloat16_runs

# bfloat16 convolutions on this CPU: oneDNN has no bfloat16 path on AVX2-only CPUs (nor under ONEDNN_MAX_CPU_ISA=AVX2)
needs_bfloat16 = pytest.mark.skipif(not bfloat16_runs(torch.device("cpu")),
                                    reason="this CPU cannot run bfloat16 convolutions (oneDNN: AVX2 only)")  # fmt: skip
BFLOAT16 = pytest.param(torch.bfloat16, marks=needs_bfloat16, id="bfloat16")  # a parametrised dtype that needs it

DATA_ROOT = Path(os.environ.get("LOWFACE_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (DATA_ROOT / "lfw" / "lfw-deepfunneled").is_dir():
        pytest.skip(f"LFW not found under {DATA_ROOT} (set LOWFACE_DATA to the folder holding lfw/)")
    return DATA_ROOT


@pytest.fixture(scope="session")
def lfw_faces(data_root: Path) -> list[np.ndarray]:
    """Six clean LFW test-pair faces, (250, 250, 3) float32 in [0, 1]."""
    from lowface.io import read_image

    names = (data_root / "lfw" / "pairs_unique_images.txt").read_text().split()[::1283][:6]
    return [read_image(data_root / "lfw" / "lfw-deepfunneled" / n).rgb for n in names]


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def smooth_test_image(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A deterministic smooth colour image with some edges, (H, W, 3) float32 in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(x / 7.0 + seed)
    g = 0.5 + 0.4 * np.cos(y / 5.0)
    b = ((x + y) % 16 < 8).astype(np.float32) * 0.6 + 0.2
    return np.stack([r, g, b], axis=2).astype(np.float32)


def assert_close(actual: Any, expected: Any, *, atol: float = 1e-8, rtol: float = 1e-5, msg: str = "") -> None:
    """The one tolerance check of the tests (scalars use ``pytest.approx``): tensors, arrays, lists or numbers,
    compared as float64 with |actual - expected| <= atol + rtol |expected| everywhere. Shapes must match, except
    against a scalar ``expected``. The message gives the worst element."""
    a = np.asarray(actual.detach().cpu().double() if isinstance(actual, torch.Tensor) else actual, np.float64)
    b = np.asarray(expected.detach().cpu().double() if isinstance(expected, torch.Tensor) else expected, np.float64)
    if b.ndim and a.shape != b.shape:
        raise AssertionError(f"{msg}shapes differ: {a.shape} vs {b.shape}")
    excess = np.abs(a - b) - (atol + rtol * np.abs(b))
    if np.isnan(a).any() or np.isnan(b).any() or (excess > 0).any():
        worst = np.unravel_index(int(np.nanargmax(np.where(np.isnan(excess), np.inf, excess))), excess.shape)
        raise AssertionError(f"{msg}not within atol={atol}, rtol={rtol}: at {tuple(int(i) for i in worst)} "
                             f"{a[worst] if a.ndim else a} vs {np.broadcast_to(b, a.shape)[worst]}")  # fmt: skip


def load_tool(name: str, folder: str = "tools") -> Any:
    """The script ``<folder>/<name>.py`` (``tools`` or ``benchmarks``) imported as a module (they are scripts, not a
    package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


needs_int8 = pytest.mark.skipif(not int8_can_run(torch.zeros(1)), reason="this PyTorch has no oneDNN int8 convolutions")
