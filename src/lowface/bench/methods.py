"""Methods of the benchmark: "clean" and "none" bounds, any enhancer by name, or trained weights under a label.

A method spec is ``name`` or ``label=name:weights.safetensors``; a name may end in ``@float32``, ``@bfloat16`` or
``@int8`` to fix the precision of the restoring networks' convolutions (default: ``auto``: int8 on x86 CPUs without
AMX, bfloat16 where AMX multiplies it; :mod:`lowface.models.precision`), and then in ``+gate`` to run it behind the
do-no-harm exposure gate as ``lowface enhance`` and the Python API do by default (:mod:`lowface.inference.gate`;
without it: the network alone). Enhanced images are cached per (method, dataset) as .npz under a cache folder, keyed
by the spec, the precision it resolves to here, the image count and the weights' (and gate's) sha256, so an
interrupted run resumes and every benchmark shares one cache.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from lowface.data.packing import packed
from lowface.inference.catalogue import model_fingerprint
from lowface.inference.gate import gate_fingerprint
from lowface.io import atomic_write_bytes, to_uint8
from lowface.models.precision import PRECISIONS, resolve_precision

if TYPE_CHECKING:
    from lowface.inference.enhancer import Enhancer

BOUNDS = ("clean", "none")


GATED = "+gate"


def split_precision(name: str) -> tuple[str, str]:
    """``"lowface-restore-real@float32"`` -> ``("lowface-restore-real", "float32")``; no suffix: ``"auto"``. A
    ``+gate`` suffix is left out (:func:`gated`)."""
    model, _, precision = name.removesuffix(GATED).partition("@")
    if precision and precision not in PRECISIONS:
        raise ValueError(f"method {name!r}: unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    return model, precision or "auto"


def cpu_precision(name: str) -> str:
    """The precision a method name runs at on this CPU: ``float32``, ``bfloat16`` or ``int8``."""
    return str(resolve_precision(split_precision(name)[1], torch.device("cpu"))).removeprefix("torch.")


def gated(name: str) -> bool:
    """Whether a method name asks for the exposure gate: ``"lowface-auto+gate"``."""
    return name.endswith(GATED)


def pretrained(name: str, weights: str | Path | None = None) -> Enhancer:
    """The named enhancer (with ``weights`` if given; ``name@precision`` as :func:`split_precision` reads it) as the
    benchmarks run it: CPU, the network alone - or behind the exposure gate for a ``+gate`` name."""
    from lowface.inference.enhancer import Enhancer

    model, precision = split_precision(name)
    return Enhancer.from_pretrained(model, weights=weights, device="cpu", gate=gated(name), precision=precision)


@dataclass(frozen=True)
class MethodSpec:
    label: str
    name: str
    weights: str | None = None

    @classmethod
    def parse(cls, spec: str) -> MethodSpec:
        """ "name" or "label=name:weights.safetensors"."""
        label, _, rest = spec.partition("=") if "=" in spec else (spec, "", spec)
        name, _, weights = rest.partition(":")
        return cls(label, name, weights or None)

    def __str__(self) -> str:
        if self.label == self.name and self.weights is None:
            return self.name
        return f"{self.label}={self.name}" + (f":{self.weights}" if self.weights else "")


def weights_id(name: str, weights: str | None) -> str:
    """The sha256 of the weights a method runs with ("" for methods without weights; an ``@int8`` name's int8 weights
    included), and of the gate file for a ``+gate`` name: part of the cache key."""
    model, int8 = split_precision(name)[0], cpu_precision(name) == "int8"  # (auto is int8 on some CPUs)
    network = model_fingerprint(model, int8, weights)
    return network + gate_fingerprint() if gated(name) else network


def cached_enhance(
    name: str, weights: str | None, dark: list[np.ndarray], cache: Path, progress: bool = True
) -> tuple[list[np.ndarray], float]:
    """Enhanced images (uint8 (H, W, 3)) and seconds per image; read from / written to ``cache`` (.npz)."""
    if cache.exists():
        with np.load(cache, allow_pickle=False) as stored:
            return packed((stored[str(i)] for i in range(len(dark))), len(dark)), float(stored["seconds"])
    enhancer = pretrained(name, weights)
    start = time.perf_counter()
    out = packed(
        (
            to_uint8(enhancer.enhance(image))
            for image in tqdm(dark, desc=cache.stem, unit="img", leave=False, disable=not progress)
        ),
        len(dark),
    )
    seconds = (time.perf_counter() - start) / max(len(dark), 1)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, seconds=np.array(seconds), **{str(i): im for i, im in enumerate(out)})
    atomic_write_bytes(cache, buffer.getvalue())
    return out, seconds


def method_images(
    spec: str | MethodSpec,
    dataset: str,
    clean: list[np.ndarray] | None,
    dark: list[np.ndarray],
    count: int | str,
    cache_dir: Path,
    progress: bool = True,
) -> tuple[list[np.ndarray], float, str]:
    """(images, seconds per image, cache tag) of one method on one dataset: the clean or dark images
    themselves, or the method's enhanced dark images (cached under ``cache_dir``). ``count`` is the size
    of the protocol (pairs for LFW, photos for real sets; "start+N" for pairs not from the first): part of
    the cache key."""
    method = spec if isinstance(spec, MethodSpec) else MethodSpec.parse(spec)
    if method.name == "clean":
        if clean is None:
            raise ValueError(f"dataset {dataset!r} has no clean reference")
        return clean, 0.0, "clean"
    if method.name == "none":
        return dark, 0.0, f"none-{dataset}"
    key = f"{method}{count}{weights_id(method.name, method.weights)}"
    precision = cpu_precision(method.name)
    if precision != "float32":  # float32 keys as before 2026-12-02: their caches stay valid
        key += precision
    tag = hashlib.sha256(key.encode()).hexdigest()[:8]
    path = cache_dir / f"{method.label}-{dataset}-{tag}.npz"
    images, seconds = cached_enhance(method.name, method.weights, dark, path, progress)
    return images, seconds, f"{method.label}-{dataset}-{tag}"
