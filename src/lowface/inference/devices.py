"""Where and how inference runs: device selection (CUDA, then Apple MPS, then CPU) and the CPU memory allocator."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters (malloc.h)
KEEP_FREED_BYTES = 1 << 30


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` or ``"auto"`` picks CUDA, then MPS, then CPU; anything else is passed to ``torch.device``."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for but CUDA is not available here")
    if resolved.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError(f"device {device!r} was asked for but Apple MPS is not available here")
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return resolved


def keep_freed_memory(limit: int = KEEP_FREED_BYTES) -> bool:
    """Let glibc's allocator keep freed blocks of up to ``limit`` bytes for reuse (True when set; False off glibc).

    By default glibc maps large blocks (over a threshold that starts at 128 KB and adapts up to 32 MB) freshly
    from the OS and unmaps them when they are freed, so the full-resolution temporaries of every frame are paid
    again in page faults (1080p, one thread, docs/benchmarks.md: lowface-restore 2.1 -> 1.6 s, Zero-DCE++
    0.28 -> 0.16 s; the same outputs). The cost: the process keeps its peak memory until it exits instead of
    shrinking between frames. The CLI, the web app, the Ray workers and the speed benchmark call this; a program
    using the Python API may call it too, or set ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``.

    All threads share the one growable arena (``M_ARENA_MAX`` 1): a thread's own arena is made of 64 MB heaps, and a
    block larger than that (the restoring U-Net's 83 MB skip join at 1080p) is mapped and unmapped again for every
    frame that a worker thread runs (video frames two at a time: 1.3 instead of 6.4 s of system time for 120 frames).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries without mallopt
        return False
    kept = bool(mallopt(M_MMAP_THRESHOLD, limit)) and bool(mallopt(M_TRIM_THRESHOLD, limit))
    return bool(mallopt(M_ARENA_MAX, 1)) and kept
