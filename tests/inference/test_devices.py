"""Device choice and the CPU allocator setting the CLI makes."""

from __future__ import annotations

import ctypes
import sys

import pytest
import torch

from lowface.inference.devices import keep_freed_memory, pick_device


def test_auto_picks_an_available_device_and_unknown_ones_are_refused():
    assert pick_device("auto").type in ("cuda", "mps", "cpu")
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            pick_device("cuda:1")


def test_freed_memory_is_kept_for_reuse_on_glibc():
    if not sys.platform.startswith("linux"):
        pytest.skip("mallopt is glibc's")
    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    assert keep_freed_memory() is True and keep_freed_memory() is True  # glibc took both settings; idempotent
