"""lowface: make dark face photos and video usable again, for people and for face recognition.

Public API (imported lazily, so ``import lowface`` stays cheap)::

    lowface.enhance(image)                            # one call (model "lowface-auto"), same kind back
    lowface.Enhancer.from_pretrained("lowface-fast")  # a reusable enhancer with one chosen network
    lowface.FrameEnhancer(enhancer)                   # one video stream, frame by frame: no flicker
    lowface.list_models(), lowface.create_model(name)
"""

from __future__ import annotations

import importlib
from typing import Any

from lowface import _moved

__version__ = "0.1.0"

_LAZY = {
    "enhance": "lowface.inference",
    "Enhancer": "lowface.inference",
    "FrameEnhancer": "lowface.inference",
    "list_models": "lowface.inference",
    "create_model": "lowface.inference",
    "read_image": "lowface.io",
    "write_image": "lowface.io",
}

__all__ = ["__version__", *_LAZY]

_moved.install()  # old module paths (lowface.api, lowface.gate, ...) still import, as aliases


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lowface' has no attribute {name!r}")
