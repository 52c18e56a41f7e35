"""The Python front door: ``Enhancer`` and the one-call ``enhance``."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lowface.devices import pick_device
from lowface.gate import shipped_gate
from lowface.io import to_batch
from lowface.pretrained import create_model
from lowface.routing import RoutedModel
from lowface.tiling import tiled_apply

# Noise-aware: lowface-restore where the estimated noise would show once brightened, else lowface-fast (which is
# better than the paper network here and 55x faster); see lowface.routing and benchmarks/results/auto_routing.md.
DEFAULT_MODEL = "lowface-auto"
# Tile size used when none is given and the model does not suggest one (its ``default_tile``).
DEFAULT_TILE = 1024


def enhanced_image(output: Tensor | tuple) -> Tensor:
    """The image part of a model's output: the first field of an output tuple (a Retinex pair's reflectance,
    a curve model's image), or the tensor itself."""
    return output[0] if isinstance(output, tuple) else output


class Enhancer:
    """A ready enhancer: a model on a device, with tiling for large images.

    Example:
        >>> enhancer = Enhancer.from_pretrained("lowface-auto")
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
        self.route_counts: Counter[str] = Counter()
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
    def routed(self) -> bool:
        """True for a noise-routed pair of networks (``lowface-auto``)."""
        return isinstance(self.model, RoutedModel)

    def _run(self, network: nn.Module, x: Tensor) -> Tensor:
        dtype = x.dtype
        x = x.to(self.device, torch.float16 if self.half else torch.float32)
        return enhanced_image(network(x)).to(dtype)

    def _apply(self, network: nn.Module, x: Tensor) -> Tensor:
        """One network over x, tile by tile when x is larger than the tile size and the network allows it."""
        tile = self.tile if self.tile is not None else getattr(network, "default_tile", DEFAULT_TILE)
        radius = getattr(network, "receptive_radius", None)
        if tile and radius is not None and max(x.shape[-2:]) > tile:
            return tiled_apply(lambda part: self._run(network, part), x, tile, radius, network.size_multiple)
        return self._run(network, x).to(x.device)

    @torch.inference_mode()
    def enhance_tensor(self, x: Tensor, gate_weight: Tensor | None = None, route: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) float in [0, 1] -> same shape, on x's device.

        Images larger than the tile size (``tile``, else the model's ``default_tile``) run tile by tile,
        exactly, so memory is bounded by the tile size whatever the image size. With the gate on, the
        result is x + w (enhanced - x), w (B,) from the whole image unless ``gate_weight`` gives it (video).
        A routed model (``lowface-auto``) picks its network per whole image, or as ``route`` (B,) says (video);
        the picks are counted in ``route_counts``.
        """
        if self.gate is not None:
            weight = self.gate.weight(x) if gate_weight is None else gate_weight
            if not bool(weight.any()):  # clearly well exposed: returned as it came, model not run
                return x.clone()
        if self.routed:
            choice = self.model.choose(x) if route is None else route
            for index in choice.tolist():
                self.route_counts[self.model.names[index]] += 1
            out = self.model.apply_choice(x, choice, self._apply)
        else:
            out = self._apply(self.model, x)
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
