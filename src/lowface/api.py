"""The Python front door: ``Enhancer`` and the one-call ``enhance``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lowface.devices import pick_device
from lowface.gate import shipped_gate
from lowface.io import to_batch
from lowface.pretrained import create_model
from lowface.tiling import tiled_apply

DEFAULT_MODEL = "lowface-fast"  # better than the paper network here (benchmarks/results/quality.md) and 55x faster
# Tile size used when none is given and the model does not suggest one (its ``default_tile``).
DEFAULT_TILE = 1024


def enhanced_image(output: Tensor | tuple) -> Tensor:
    """The image part of a model's output: the first field of an output tuple (a Retinex pair's reflectance,
    a curve model's image), or the tensor itself."""
    return output[0] if isinstance(output, tuple) else output


class Enhancer:
    """A ready enhancer: a model on a device, with tiling for large images.

    Example:
        >>> enhancer = Enhancer.from_pretrained("lowface-fast")
        >>> out = enhancer.enhance(np.zeros((64, 64, 3), np.uint8))   # same kind back: uint8 (64, 64, 3)
    """

    def __init__(
        self,
        model: nn.Module,
        name: str = "custom",
        device: str | torch.device | None = None,
        tile: int | None = None,
        half: bool = False,
        gate: bool = False,
    ):
        """``gate``: blend with the input by the do-no-harm exposure gate (:mod:`lowface.gate`), so that
        well-exposed images come back unchanged; off here (the raw model), on in the CLI and ``enhance()``."""
        self.name = name
        self.gate = shipped_gate() if gate else None
        self.device = pick_device(device)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.tile = tile
        self.half = half and self.device.type == "cuda"
        if self.half:
            self.model.half()

    @classmethod
    def from_pretrained(
        cls,
        name: str = DEFAULT_MODEL,
        device: str | torch.device | None = None,
        tile: int | None = None,
        weights: str | Path | None = None,
        half: bool = False,
        gate: bool = False,
    ) -> Enhancer:
        """Load a named enhancer (see ``lowface.list_models()``), optionally with user weights."""
        return cls(create_model(name, weights), name, device, tile, half, gate)

    def to(self, device: str | torch.device) -> Enhancer:
        self.device = pick_device(device)
        self.model.to(self.device)
        return self

    @property
    def tileable(self) -> bool:
        return getattr(self.model, "receptive_radius", None) is not None

    def _run(self, x: Tensor) -> Tensor:
        dtype = x.dtype
        x = x.to(self.device, torch.float16 if self.half else torch.float32)
        return enhanced_image(self.model(x)).to(dtype)

    @torch.inference_mode()
    def enhance_tensor(self, x: Tensor, gate_weight: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) float in [0, 1] -> same shape, on x's device.

        Images larger than the tile size (``tile``, else the model's ``default_tile``) run tile by tile,
        exactly, so memory is bounded by the tile size whatever the image size. With the gate on, the
        result is x + w (enhanced - x), w (B,) from the whole image unless ``gate_weight`` gives it (video).
        """
        if self.gate is not None:
            weight = self.gate.weight(x) if gate_weight is None else gate_weight
            if not bool(weight.any()):  # clearly well exposed: returned as it came, model not run
                return x.clone()
        tile = self.tile if self.tile is not None else getattr(self.model, "default_tile", DEFAULT_TILE)
        if tile and self.tileable and max(x.shape[-2:]) > tile:
            out = tiled_apply(self._run, x, tile, self.model.receptive_radius, self.model.size_multiple)
        else:
            out = self._run(x).to(x.device)
        return out if self.gate is None else self.gate.blend(x, out, weight)

    def enhance(self, image: Any, bgr: bool = False) -> Any:
        """Enhance a PIL image, NumPy array (``bgr=True`` for OpenCV), tensor or ImageData; same kind back."""
        batch, restore = to_batch(image, bgr=bgr)
        return restore(self.enhance_tensor(batch))

    def __repr__(self) -> str:
        return f"Enhancer(name={self.name!r}, device={self.device}, tile={self.tile}, gate={self.gate is not None})"


@lru_cache(maxsize=4)
def _cached_enhancer(name: str, device: str | None, gate: bool) -> Enhancer:
    return Enhancer.from_pretrained(name, device, gate=gate)


def enhance(
    image: Any, model: str = DEFAULT_MODEL, device: str | None = None, bgr: bool = False, gate: bool = True
) -> Any:
    """One call: enhance ``image`` with a named model (cached between calls); returns the same kind.
    With ``gate`` (default) a well-exposed image comes back unchanged (see :mod:`lowface.gate`)."""
    return _cached_enhancer(model, device, gate).enhance(image, bgr=bgr)
