"""Inference: everything between a model name and an enhanced file.

- :mod:`.api` and :mod:`.enhancer` - the one-call ``enhance`` and ``Enhancer`` (the Python front door);
- :mod:`.catalogue` - the named, ready-to-use enhancers (shipped weights, classical baselines, routed pairs);
- :mod:`.tiling` - exact tile-by-tile inference for any image size;
- :mod:`.statistics` - whole-image statistics shared by the gate and the router (luma, noise level);
- :mod:`.gate` and :mod:`.routing` - the do-no-harm exposure gate and the noise router, both small logistic models
  (:mod:`.logistic`) fitted by tools/ and shipped in ``lowface/weights``;
- :mod:`.temporal` - temporal noise reduction for video;
- :mod:`.batch` and :mod:`.records` - files and folders in, outputs and their records out; :mod:`.ray_batch` the
  same on a Ray cluster;
- :mod:`.devices` and :mod:`.export` - device choice, ONNX / TorchScript.

Imports flow one way: ``lowface.assets`` -> ``lowface.models`` / ``lowface.io`` -> ``lowface.inference`` ->
``lowface.cli`` / ``lowface.web``; nothing here imports training, benchmark or face code.
"""

from __future__ import annotations

import importlib
from typing import Any

# Resolved on first use, so importing one submodule (e.g. ``.devices`` from the trainer) loads only that one:
# the file and video side (PyAV, HEIC, RAW) stays unloaded until something asks for it.
_LAZY = {
    "enhance": "lowface.inference.api",
    "create_model": "lowface.inference.catalogue",
    "list_models": "lowface.inference.catalogue",
    "model_card": "lowface.inference.catalogue",
    "DEFAULT_MODEL": "lowface.inference.enhancer",
    "Enhancer": "lowface.inference.enhancer",
    "FrameEnhancer": "lowface.inference.batch",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lowface.inference' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
