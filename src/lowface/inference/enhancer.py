"""``Enhancer``: a ready model on a device, with the gate, the router and tiling for any image size."""

from __future__ import annotations

import copy
import math
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lowface.inference.catalogue import create_model, model_fingerprint
from lowface.inference.devices import pick_device
from lowface.inference.gate import ExposureGate, gate_fingerprint, shipped_gate
from lowface.inference.routing import RoutedModel
from lowface.inference.statistics import exposure_features
from lowface.inference.tiling import tiled_apply
from lowface.io import read_image, to_batch
from lowface.models.base import EnhancementModel, as_enhancement_model, whole_image
from lowface.models.precision import conv_precision, resolve_precision
from lowface.models.restore_net import denoising_networks, set_denoise_strength

# Noise-aware: lowface-restore-real where the estimated noise would show once brightened, else lowface-fast-tone
# (lowface-fast's gain and a learnt tone curve); see lowface.inference.routing and benchmarks/results/auto_routing.md.
DEFAULT_MODEL = "lowface-auto"


def in_unit_range(x: Tensor) -> Tensor:
    """``x`` itself when its values lie in [0, 1], else a copy clipped to it (as :func:`lowface.io.to_batch` clips);
    ValueError when it holds NaN or Inf. One pass over ``x`` (about 1 ms a 1080p frame)."""
    low, high = (float(v) for v in torch.aminmax(x))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("input tensor contains NaN or Inf values")
    return x if low >= 0.0 and high <= 1.0 else x.clamp(0.0, 1.0)


class Enhancer:
    """A ready enhancer: a model on a device, with tiling for large images.

    Example:
        >>> import numpy as np
        >>> enhancer = Enhancer.from_pretrained("gamma", device="cpu")
        >>> enhancer.enhance(np.full((64, 64, 3), 20, np.uint8)).dtype   # same kind back: uint8 (64, 64, 3)
        dtype('uint8')
    """

    def __init__(
        self,
        model: nn.Module,
        name: str = "custom",
        device: str | torch.device | None = None,
        tile: int | None = None,
        half: bool = False,
        gate: bool = True,
        strength: float = 1.0,
        fingerprint: str = "",
        precision: str = "auto",
        denoise: float | None = None,
    ):
        """``gate`` (on by default, as in the CLI and ``enhance()``): blend with the input by the do-no-harm
        exposure gate (:mod:`lowface.inference.gate`), so that well-exposed images come back unchanged;
        ``gate=False`` gives the raw model, as the benchmarks measure it. ``strength`` in [0, 1] scales the
        enhancement on top of the gate: x + strength w (enhanced - x). ``half``: float16 weights, CUDA only.
        ``fingerprint``: a checksum of what the model computes (its weights), recorded with each output file.
        ``denoise`` in [0, 1] (None: the model's own): the share of the estimated noise the restoring network removes
        (:func:`lowface.models.restore_net.set_denoise_strength`; lower keeps more of the finest grain); a model
        without a denoiser refuses it; it is set on a copy of ``model``."""
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        if tile is not None and tile < 0:
            raise ValueError(f"tile must be 0 (no tiling) or a positive size in pixels, got {tile}")
        self.name, self.strength, self.fingerprint = name, float(strength), fingerprint
        self.gate = shipped_gate() if gate else None
        self.device = pick_device(device)
        if half and self.device.type != "cuda":
            raise ValueError(f"half precision needs a CUDA device; this enhancer runs on {self.device}")
        self.model = as_enhancement_model(model).eval().requires_grad_(False).to(self.device)
        self.denoise = None if denoise is None else float(denoise)
        if self.denoise is not None:
            self.model = copy.deepcopy(self.model)  # the caller's model (a server's cached one) keeps its own
            set_denoise_strength(self.model, self.denoise, name)
        self.tile = tile
        self.route_counts: Counter[str] = Counter()
        self._counting = threading.Lock()  # frames and images run on worker threads
        self.half = half
        if self.half:
            self.model.half()
        self.precision = precision
        self.conv_dtype = torch.float32 if half else resolve_precision(precision, self.device)

    @classmethod
    def from_pretrained(
        cls,
        name: str = DEFAULT_MODEL,
        device: str | torch.device | None = None,
        tile: int | None = None,
        weights: str | Path | None = None,
        half: bool = False,
        gate: bool = True,
        strength: float = 1.0,
        precision: str = "auto",
        denoise: float | None = None,
    ) -> Enhancer:
        """Load a named enhancer (see ``lowface.list_models()``), optionally with user weights."""
        int8 = not half and resolve_precision(precision, pick_device(device)) == torch.int8
        fingerprint = model_fingerprint(name, int8, weights)
        model = create_model(name, weights)
        return cls(model, name, device, tile, half, gate, strength, fingerprint, precision, denoise)

    @staticmethod
    def takes_denoise(model: nn.Module) -> bool:
        """Whether ``denoise`` acts on ``model``: it holds a restoring network with a denoiser (a routed pair does)."""
        return bool(denoising_networks(model))

    @property
    def recipe(self) -> dict[str, Any]:
        """What decides this enhancer's output, recorded beside each output file (:mod:`lowface.inference.batch`):
        model name, weights checksum, gate (with its file's checksum), strength and a denoising strength where one was
        given (left out otherwise, so that records made before the option still match), and ``precision`` int8 where
        asked (its outputs are about 51 dB from bfloat16's on real photos; the weights checksum then includes the int8
        weights', :func:`lowface.inference.catalogue.model_fingerprint`). Device, tiling (exact) and the float
        precisions are left out: they move values by rounding only (bfloat16 convolutions, where ``precision`` picks
        them, by up to about 0.01: :mod:`lowface.models.precision`)."""
        recipe = {
            "model": self.name,
            "weights_sha256": self.fingerprint,
            "gate": gate_fingerprint() if self.gate is not None else None,
            "strength": self.strength,
        }
        if self.conv_dtype == torch.int8:
            recipe["precision"] = "int8"
        return recipe if self.denoise is None else {**recipe, "denoise": self.denoise}

    @staticmethod
    def recipe_for(name: str, weights: str | Path | None = None, gate: bool = True, strength: float = 1.0,
                   denoise: float | None = None, precision: str = "auto", device: str = "cpu") -> dict:  # fmt: skip
        """The :attr:`recipe` of ``from_pretrained(name, weights=weights, gate=gate, strength=strength,
        denoise=denoise, precision=precision)`` on this machine's CPU (``device`` "cpu") or on a GPU ("cuda", which
        never runs int8; int8 asked there is refused), without loading the model (a job planner needs only this)."""
        int8 = resolve_precision(precision, torch.device(device)) == torch.int8
        recipe = {
            "model": name,
            "weights_sha256": model_fingerprint(name, int8, weights),
            "gate": gate_fingerprint() if gate else None,
            "strength": float(strength),
        }
        if int8:
            recipe["precision"] = "int8"
        return recipe if denoise is None else {**recipe, "denoise": float(denoise)}

    def to(self, device: str | torch.device) -> Enhancer:
        self.device = pick_device(device)
        self.model.to(self.device)
        self.conv_dtype = torch.float32 if self.half else resolve_precision(self.precision, self.device)
        return self

    @property
    def routed(self) -> bool:
        """True for a noise-routed pair of networks (``lowface-auto``)."""
        return isinstance(self.model, RoutedModel)

    def _run(self, network: EnhancementModel, x: Tensor) -> Tensor:
        dtype = x.dtype
        x = x.to(self.device, torch.float16 if self.half else torch.float32)
        with conv_precision(self.conv_dtype):
            return network.enhance(x).to(dtype)

    def _apply(self, network: EnhancementModel, x: Tensor) -> Tensor:
        """One network over x, tile by tile when x is larger than the tile size and the network allows it; every
        tile is processed as the whole image would be (:func:`lowface.models.base.whole_image`)."""
        height, width = x.shape[-2:]
        tile = self.tile
        if tile is None:
            whole = network.whole_side is not None and max(height, width) <= network.whole_side
            tile = 0 if whole else network.default_tile
        with whole_image(height, width):
            radius, multiple = network.tiling(height, width)
            if tile and radius is not None and max(height, width) > tile:
                return tiled_apply(lambda part: self._run(network, part), x, tile, radius, multiple)
            return self._run(network, x).to(x.device)

    def weight(self, x: Tensor, brightness: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) -> (B,) how much of the enhancement each image gets: gate weight x strength; 0 means
        the image comes back exactly as it came (and a file is copied byte for byte). ``brightness``: x's
        :func:`exposure_features`, where the caller has them."""
        if self.gate is None:
            return x.new_ones(x.shape[0]) * self.strength
        weight = self.gate.weight(x) if brightness is None else self.gate.weight_from_features(brightness)
        return weight * self.strength

    @torch.inference_mode()
    def enhance_tensor(self, x: Tensor, gate_weight: Tensor | None = None, route: Tensor | None = None,
                       exposure: Tensor | None = None) -> Tensor:  # fmt: skip
        """(B, 3, H, W) float in [0, 1] -> same shape, on x's device.

        Images larger than the tile size (``tile``, else the model's ``default_tile`` - unless the model runs
        images up to its ``whole_side`` in one piece) run tile by tile, exactly, so memory is bounded by the tile
        size whatever the image size. With the gate on, the
        result is x + w (enhanced - x), w (B,) from the whole image unless ``gate_weight`` gives it (video).
        A routed model (``lowface-auto``) mixes its networks by its router's probability for each whole image, or by
        ``route`` (B,) in [0, 1] (video: the smoothed probability; 0 = the fast network alone, 1 = the restoring one);
        what ran is counted in ``route_counts``; with an exposure target,
        its result is moved towards the brightness predicted from the whole input, or as ``exposure`` (B,) gives it
        (video: :class:`ExposureSmoother`), and with chroma smoothing its colour noise is then smoothed where the whole
        input was dark (:mod:`lowface.inference.chroma`).
        ``strength`` scales w (also a given ``gate_weight``).
        Values outside [0, 1] (a resampling filter's or a denoiser's overshoot) are clipped to it first - one
        negative pixel used to turn the whole output into NaN; NaN or Inf in ``x`` is refused (ValueError).
        """
        # contiguous: an image array's channels-last strides slow every full-resolution step (+65 ms at 1080p)
        x = in_unit_range(x.contiguous())
        blend = self.gate is not None or self.strength < 1.0
        gated = self.gate is not None and gate_weight is None
        target = self.model.exposure if self.routed else None
        measured = (gated or (target is not None and exposure is None)) and self.routed and route is None
        brightness = exposure_features(x) if measured else None  # the gate's, the router's and the exposure target's
        if blend:
            weight = self.weight(x, brightness) if gate_weight is None else gate_weight * self.strength
            if not bool(weight.any()):  # clearly well exposed (or strength 0): returned as it came, model not run
                return x.clone()
        if self.routed:
            probability = self.model.probability(x, brightness) if route is None else route
            with self._counting:
                self.route_counts.update(map(self.model.label, probability.tolist()))
            out = self.model.finish_(self.model.apply_route(x, probability, self._apply), x, brightness, exposure)
        else:
            out = self._apply(self.model, x)
        if not blend or bool((weight == 1).all()):  # fully enhanced: out itself (the blend would only round it)
            return out
        return ExposureGate.blend(x, out, weight)

    def enhance(self, image: Any, bgr: bool = False) -> Any:
        """Enhance a PIL image, NumPy array (``bgr=True`` for OpenCV), tensor or ImageData; same kind back.
        A path (str or Path) is read with :func:`lowface.io.read_image` and gives an ImageData (bit depth, alpha
        and metadata kept; write it with :func:`lowface.io.write_image`)."""
        if isinstance(image, str | Path):
            image = read_image(image)
        batch, restore = to_batch(image, bgr=bgr)
        return restore(self.enhance_tensor(batch))

    def __repr__(self) -> str:
        return (
            f"Enhancer(name={self.name!r}, device={self.device}, tile={self.tile}, gate={self.gate is not None}, "
            f"precision={str(self.conv_dtype).removeprefix('torch.')})"
        )
