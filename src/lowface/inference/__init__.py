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

from lowface.inference.api import enhance
from lowface.inference.catalogue import create_model, list_models, model_card
from lowface.inference.enhancer import DEFAULT_MODEL, Enhancer

__all__ = ["DEFAULT_MODEL", "Enhancer", "create_model", "enhance", "list_models", "model_card"]
