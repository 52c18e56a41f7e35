"""The benchmark's cache: a computed row (JSON) or array (.npy) is read back from its file when a run has already
written it there, so an interrupted or repeated run resumes. Files are written atomically."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lowface.io import atomic_write_bytes


def cached_row(path: Path, compute: Callable[[], dict]) -> dict:
    """``compute()``'s JSON-able dict, read from ``path`` when a run has already written it there."""
    if path.exists():
        return json.loads(path.read_text())
    row = compute()
    atomic_write_bytes(path, json.dumps(row).encode())
    return row


def cached_array(path: Path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()``'s array, read from ``path`` (.npy) when a run has already written it there."""
    if path.exists():
        return np.load(path)
    array = compute()
    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write_bytes(path, buffer.getvalue())
    return array
