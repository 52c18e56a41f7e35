"""The number format of the restoring networks' convolutions in plain inference: float32, bfloat16 where the
hardware multiplies bfloat16 natively, or int8.

Most of ``lowface-restore-real``'s time goes to the 3x3 convolutions of its denoiser's U-Net (45 of its 51 GMACs at
1080p). CPUs with AMX or AVX512-BF16 (Intel Xeon from Sapphire Rapids on, AMD from Zen 4 on) run them in bfloat16
through oneDNN several times faster than in float32 (the U-Net at 1080p on one thread: 0.70 -> 0.20 s); elsewhere
bfloat16 is emulated and slower, so ``auto`` does not take it there; on x86 CPUs without AMX it takes int8 (below).
Only the U-Net's convolutions, activations and resampling run in bfloat16 (8 bits of mantissa); its output, the
illumination, the high-pass and the tone head stay float32, and the output moves by about 1e-3
(``benchmarks/results/bfloat16/``). Training and export always run float32: :func:`reduced_precision` is a no-op
outside plain inference.

``int8`` (CPUs): a restoring network calibrated for it (its denoiser's activation ranges shipped with its weights)
runs its U-Net's convolutions in int8 (:mod:`lowface.models.int8`) and, where its illumination estimator is
calibrated too and the CPU sums int8 exactly (:func:`exact_int8_sums`), the estimator's
(:mod:`lowface.models.int8_estimator`); everything else in bfloat16 where native, else float32. ``auto`` picks it on
x86 CPUs without AMX: where the alternative is float32 it takes about a third off the default's time, where it is
AVX-512's bfloat16 about a fifth, at the same validation figures (:func:`int8_by_default`,
``benchmarks/results/int8/``). CPUs with AMX keep bfloat16, the fastest measured there.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from collections.abc import Iterator
from contextvars import ContextVar

import torch

from lowface.filters import plain_inference

PRECISIONS = ("auto", "float32", "bfloat16", "int8")

_CONV_DTYPE: ContextVar[torch.dtype] = ContextVar("lowface_conv_dtype", default=torch.float32)


# oneDNN's instruction sets (ONEDNN_MAX_CPU_ISA values) with bfloat16 dot products; a cap below them (AVX2,
# AVX512_CORE_VNNI, ...) makes oneDNN refuse bfloat16 convolutions on any CPU
BFLOAT16_ISAS = frozenset({"AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
                           "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "ALL", "DEFAULT"})  # fmt: skip


def cpu_isa_cap() -> str | None:
    """The instruction set oneDNN is capped at (``ONEDNN_MAX_CPU_ISA``, or its older name ``DNNL_MAX_CPU_ISA``),
    upper case; None where it is not capped. A cap makes a CPU behave as an older one (e.g. ``AVX2``: a laptop without
    AVX-512), which is how this project measures such CPUs."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return cap.strip().upper() if cap and cap.strip() else None


# oneDNN's instruction sets (ONEDNN_MAX_CPU_ISA values) that include AMX tiles
AMX_ISAS = frozenset({"AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "ALL",
                      "DEFAULT"})  # fmt: skip


def amx_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` is a CPU whose oneDNN multiplies bfloat16 matrices on AMX tiles (Intel Xeon from Sapphire
    Rapids on; not capped below AMX, :func:`cpu_isa_cap`): where bfloat16 beats int8's AVX-512 dot products."""
    if device.type != "cpu" or not torch.cpu._is_amx_tile_supported():
        return False
    cap = cpu_isa_cap()
    return cap is None or cap in AMX_ISAS


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware: a CPU with AMX tiles or AVX512-BF16 (and oneDNN not capped
    below them, :func:`cpu_isa_cap`), a CUDA GPU that supports it (compute capability 8 and up)."""
    if device.type == "cpu":
        cap = cpu_isa_cap()
        if cap is not None and cap not in BFLOAT16_ISAS:
            return False
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return False


# oneDNN's instruction sets (ONEDNN_MAX_CPU_ISA values) without any bfloat16 path: it needs AVX-512 (BW, VL, DQ) or
# AVX-NE-CONVERT (AVX2_VNNI_2) to convert, and refuses bfloat16 convolutions below them
NO_BFLOAT16_ISAS = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI"})


def bfloat16_runs(device: torch.device) -> bool:
    """Whether bfloat16 convolutions run on ``device`` at all, natively or emulated (slower): on a CPU, whether oneDNN
    has a bfloat16 path for it (not on AVX2-only CPUs, nor under a cap at AVX2); a CUDA GPU that supports it."""
    if device.type == "cpu":
        if cpu_isa_cap() in NO_BFLOAT16_ISAS:
            return False
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


# oneDNN's instruction sets (ONEDNN_MAX_CPU_ISA values) below VNNI: its int8 convolutions there sum pairs of u8 x s8
# products in 16 bits, which saturate
NO_VNNI_ISAS = frozenset({"SSE41", "AVX", "AVX2", "AVX512_CORE"})


def exact_int8_sums() -> bool:
    """Whether oneDNN sums int8 products exactly on this CPU: VNNI (AVX512-VNNI or AVX-VNNI) and no cap below it
    (:func:`cpu_isa_cap`). Without it (AVX2, AVX-512 before Cascade Lake) pairs of products are summed in saturating
    16 bits: the restoring U-Net's maps take it (its validation figures level under an AVX2 cap), the illumination
    estimator's do not (``lowface-restore-real``'s outputs 41 dB from its float estimator's, lowest 34, against 50 / 44
    with VNNI: ``benchmarks/results/int8/README.md``, round 8)."""
    return bool(torch.cpu._is_vnni_supported()) and cpu_isa_cap() not in NO_VNNI_ISAS


X86_MACHINES = frozenset({"x86_64", "amd64", "i386", "i686"})  # platform.machine() of the CPUs int8 was measured on


def float_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 where ``device`` multiplies it natively (:func:`native_bfloat16`), else float32: what ``auto`` runs
    where it does not run int8, and what the networks without int8 convolutions run beside them."""
    return torch.bfloat16 if native_bfloat16(device) else torch.float32


def int8_by_default(device: torch.device) -> bool:
    """Whether ``auto`` runs int8 on ``device``: an x86 CPU without AMX (:func:`amx_bfloat16`) whose PyTorch has
    oneDNN's int8 convolutions. Measured (2026-12-07, ``benchmarks/results/int8/``): where the alternative is float32
    (no native bfloat16) int8 took 31 % off ``lowface-auto``'s 1080p frame under an AVX2 cap, at float32's validation
    figures; where it is AVX-512's bfloat16 dot products (AMD Zen 4) a fifth, at bfloat16's validation figures and,
    on the one look at test data, within float32's own rounding spread of bfloat16."""
    if device.type != "cpu" or amx_bfloat16(device) or platform.machine().lower() not in X86_MACHINES:
        return False
    from lowface.models.int8 import int8_can_run  # (here: lowface.models, which it is part of, imports this module)

    return int8_can_run(torch.zeros(1))


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """``auto`` (int8 where :func:`int8_by_default`, else bfloat16 where :func:`native_bfloat16`, else float32),
    ``float32``, ``bfloat16`` or ``int8`` (CPUs only) -> the dtype."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "int8":
        if device.type != "cpu":
            raise ValueError(f"int8 convolutions run on CPUs only, not on {device}; use auto, float32 or bfloat16")
        from lowface.models.int8 import int8_can_run  # (see int8_by_default)

        if not int8_can_run(torch.zeros(1)):  # (else the network would run float and its outputs say int8)
            raise ValueError("this PyTorch has no oneDNN int8 convolutions; use auto, float32 or bfloat16")
        return torch.int8
    if precision == "auto":
        if int8_by_default(device):
            return torch.int8
        return float_dtype(device)
    if precision == "bfloat16" and device.type == "cpu" and not bfloat16_runs(device):
        raise ValueError("this CPU cannot run bfloat16 convolutions (oneDNN needs AVX-512 or AVX-NE-CONVERT for "
                         "them); use auto, float32 or int8")  # fmt: skip
    return torch.bfloat16 if precision == "bfloat16" else torch.float32


@contextlib.contextmanager
def conv_precision(dtype: torch.dtype) -> Iterator[None]:
    """Within the block, networks that support it (:func:`reduced_precision`) run their convolutions in ``dtype``
    (float32 or bfloat16) in plain inference; int8: those that can (:func:`int8_convolutions`) in int8, the others in
    bfloat16 where the CPU multiplies it natively, else float32. Per thread and task (a context variable)."""
    if dtype not in (torch.float32, torch.bfloat16, torch.int8):
        raise ValueError(f"convolutions run in float32, bfloat16 or int8, not {dtype}")
    token = _CONV_DTYPE.set(dtype)
    try:
        yield
    finally:
        _CONV_DTYPE.reset(token)


def reduced_dtype() -> torch.dtype | None:
    """The reduced dtype that :func:`conv_precision` set, in plain inference; None where convolutions run in the
    model's own dtype (float32 set, training, tracing, export)."""
    dtype = _CONV_DTYPE.get()
    if dtype == torch.int8:  # what the networks without int8 convolutions run in beside them (int8: CPUs only)
        dtype = _cpu_float_dtype()
    return dtype if dtype != torch.float32 and plain_inference() else None


def int8_convolutions() -> bool:
    """Whether :func:`conv_precision` asked for int8 convolutions and the code runs as plain inference."""
    return _CONV_DTYPE.get() == torch.int8 and plain_inference()


@functools.cache
def _cpu_float_dtype() -> torch.dtype:
    return float_dtype(torch.device("cpu"))


def uses_reduced_precision(model: torch.nn.Module) -> bool:
    """Whether any part of ``model`` runs its convolutions in the precision :func:`conv_precision` sets (a module
    class that does says so with ``USES_REDUCED_PRECISION = True``)."""
    return any(getattr(module, "USES_REDUCED_PRECISION", False) for module in model.modules())


def reduced_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """The context a network's convolution-heavy part runs in: autocast to the dtype that :func:`conv_precision`
    set, in plain inference on a CPU or CUDA device; a no-op for float32, training, tracing and export."""
    dtype = reduced_dtype()
    if dtype is None or device.type not in ("cpu", "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
