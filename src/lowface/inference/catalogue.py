"""The catalogue of ready-to-use enhancers: shipped trained networks and the classical baselines.

Shipped weights live in ``lowface/weights/`` as safetensors, described by ``manifest.json`` (architecture,
constructor arguments, sha256, licence, the exact training command). The checksum is verified before use;
nothing is downloaded and nothing is written into the package.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch

from lowface.assets import WEIGHTS, AssetMissing, package_file, sha256_file, verify_sha256
from lowface.inference.chroma import ChromaSmoothing
from lowface.inference.exposure import EXPOSURE_FILE, shipped_exposure
from lowface.inference.routing import ROUTER_FILE, RoutedModel, shipped_router
from lowface.models.base import EnhancementModel
from lowface.registry import MODELS

__all__ = ["ModelCard", "create_model", "list_models", "load_state_dict", "model_card", "model_fingerprint",
           "sha256_file", "shipped_weights_path", "weights_architecture"]  # fmt: skip


@dataclass(frozen=True)
class ModelCard:
    """What a name in :func:`list_models` stands for."""

    name: str
    architecture: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""  # what it is and, for shipped weights, each version's change and its measured effect
    file: str | None = None
    sha256: str | None = None
    licence: str = "MIT (lowface code; no weights)"
    command: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    summary: str = ""  # one line for listings (`lowface models`); the description when empty
    int8: dict[str, Any] = field(default_factory=dict)  # the int8 runtime's own weights: file, sha256, command, note

    @property
    def headline(self) -> str:
        """The one line a listing shows: the summary, else the description."""
        return self.summary or self.description


CLASSICAL_CARDS = [
    ModelCard("identity", "identity", description="no enhancement (the 'none' reference)"),
    ModelCard("gamma", "gamma", {"gamma": 2.2}, "gamma correction x**(1/2.2)"),
    ModelCard("he", "histogram_equalization", description="global histogram equalisation of luma"),
    ModelCard("clahe", "clahe", description="contrast-limited adaptive histogram equalisation of luma"),
    ModelCard("lime", "lime", description="LIME illumination map estimation (Guo et al. 2017)"),
]


# Noise-aware pairs (lowface/inference/routing.py): kwargs name the two shipped networks the router chooses between
# and the router's file in lowface/weights/.
ROUTED_CARDS = [
    ModelCard(
        "lowface-auto",
        "routed",
        {
            "fast": "lowface-fast-tone",
            "restore": "lowface-restore-real",
            "router": ROUTER_FILE,
            "exposure": EXPOSURE_FILE,
            "blend": [0.25, 0.75],
            "detail_blend": [0.0, 0.55],
            "chroma": {"radius_share": 1 / 128, "eps": 1e-3, "dark": [0.02, 0.1]},
        },
        "noise-aware: lowface-restore-real (halo-free, trained on real captures) for images whose estimated noise "
        "would show once brightened, lowface-fast-tone (lowface-fast with a tone head learnt on real pairs) for the "
        "rest (the router in lowface/weights/noise_router.json, fitted with lowface-fast in that place), a mix of "
        "both where the router is unsure (the tone over probabilities 0.25-0.75, the detail - what a 1/4-scale "
        "low-pass leaves - over 0-0.55); the result moved towards the brightness predicted for a well-exposed "
        "version (lowface/weights/exposure_target.json), then its colour noise smoothed along its own luma where the "
        "input was dark (lowface/inference/chroma.py)",
        licence="MIT (both networks and the router trained / fitted by lowface's own code; LFW, CelebA and SICE: "
        "research use)",
        summary="the default: lowface-restore-real for noisy images, lowface-fast-tone for clean ones, mixed where "
        "the router is unsure",
        command="python tools/fit_noise_router.py --data-root ../shared/data --restore lowface-restore-real && "
        "python tools/fit_exposure_target.py --data-root ../shared/data --share 0.5 --darken-only && "
        "python benchmarks/soft_routing.py --data-root ../shared/data "
        "--out benchmarks/results/split_routing/choice.json",
    ),
    ModelCard(
        "lowface-auto-fast",
        "routed",
        {
            "fast": "lowface-fast",
            "restore": "lowface-restore-real-fast",
            "router": "noise_router_fast.json",
            "exposure": EXPOSURE_FILE,
        },
        "lowface-auto at video rate: lowface-restore-real-fast (lowface-restore-real distilled, about 4x cheaper at "
        "1080p, halo-free) for the noisy images, chosen by the router fitted for lowface-fast against it "
        "(lowface/weights/noise_router_fast.json); the result moved towards the brightness predicted for a "
        "well-exposed version, as lowface-auto's",
        licence="MIT (both networks and the router trained / fitted by lowface's own code; LFW, CelebA and SICE: "
        "research use)",
        summary="lowface-auto at video rate: lowface-restore-real-fast for noisy images, lowface-fast for clean ones",
        command="python tools/fit_noise_router.py --data-root ../shared/data --restore lowface-restore-real-fast "
        "--out src/lowface/weights/noise_router_fast.json",
    ),
]


@lru_cache(maxsize=1)
def _cards() -> dict[str, ModelCard]:
    cards = {card.name: card for card in CLASSICAL_CARDS + ROUTED_CARDS}
    try:
        manifest = package_file(WEIGHTS, "manifest.json")
    except AssetMissing:  # a source tree without shipped weights: the weightless methods only
        return cards
    for name, entry in json.loads(manifest.read_text()).items():
        cards[name] = ModelCard(name=name, **entry)
    return cards


def list_models(pattern: str = "*") -> list[str]:
    """Names of every ready-to-use enhancer matching a glob pattern.

    Example:
        >>> list_models("lowface*")
        ['lowface', 'lowface-auto', 'lowface-auto-fast', 'lowface-fast', 'lowface-fast-tone', 'lowface-fast-v2', \
'lowface-restore', 'lowface-restore-fast', 'lowface-restore-real', 'lowface-restore-real-fast']
    """
    return sorted(name for name in _cards() if fnmatch(name, pattern))


def model_card(name: str) -> ModelCard:
    try:
        return _cards()[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(list_models())}") from None


NEGLIGIBLE_WEIGHT = 1e-30  # weights smaller than this in magnitude load as exactly 0


def load_state_dict(path: str | Path, sha256: str | None = None) -> dict:
    """Load a safetensors state dict, verifying its sha256 first when one is given.

    Floating-point values below ``NEGLIGIBLE_WEIGHT`` in magnitude load as 0: weight decay leaves tens of thousands
    of weights near 1e-35 in some shipped files (29,898 in lowface-restore-real's illumination estimator), whose
    products with small activations are subnormal floats, and on this project's x86 CPUs arithmetic on those is so
    slow that a 1080p frame took 20 s instead of 0.8-1.5 s (2026-12-02). Their share of any output is below float32's
    resolution: the outputs were bit-identical on the frame measured."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if sha256 is not None:
        verify_sha256(path, sha256)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: only .safetensors weights are accepted")
    state = safetensors.torch.load_file(str(path))
    for tensor in state.values():
        if tensor.is_floating_point():
            tensor.masked_fill_(tensor.abs() < NEGLIGIBLE_WEIGHT, 0.0)
    return state


def shipped_weights_path(card: ModelCard) -> Path:
    """The shipped weights file of a card that has one (checked against the weights' SHA256SUMS)."""
    if card.file is None:
        raise ValueError(f"{card.name} has no weights file")
    return package_file(WEIGHTS, card.file)


def model_fingerprint(name: str, int8: bool = False, weights: str | Path | None = None) -> str:
    """A sha256 that changes whenever what the named enhancer computes may change ("" for weightless methods): its
    weights' checksum (with the constructor arguments it runs with, where the manifest gives any: the same tensors
    with another ``context_clip`` compute something else), or for a routed pair the checksums of both networks and of
    the router file (and of the exposure target's, where it has one; and its blend bands and chroma smoothing).
    ``int8``: with int8 convolutions - the int8 runtime's own weights' checksum mixed in where it has them (float
    fingerprints stay as they were). Given ``weights``: that file's sha256 (it runs int8 on its own ranges)."""
    if weights is not None:
        return sha256_file(weights)
    card = model_card(name)
    if card.architecture != "routed":
        fingerprint = card.sha256 or ""
        if card.sha256 and card.kwargs:
            fingerprint = _sha256_text(f"{card.sha256}\n{json.dumps(card.kwargs, sort_keys=True)}")
        return _sha256_text(f"{fingerprint}\nint8 {card.int8['sha256']}") if int8 and card.int8 else fingerprint
    files = [card.kwargs["router"], *([card.kwargs["exposure"]] if "exposure" in card.kwargs else [])]
    parts = [model_fingerprint(card.kwargs["fast"], int8), model_fingerprint(card.kwargs["restore"], int8),
             *(package_file(WEIGHTS, file).read_bytes().hex() for file in files)]  # fmt: skip
    for setting in ("blend", "detail_blend", "chroma"):  # (left out where absent: older pairs keep their fingerprints)
        if setting in card.kwargs:
            parts.append(f"{setting} {json.dumps(card.kwargs[setting], sort_keys=True)}")
    return _sha256_text("\n".join(parts))


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def weights_architecture(path: str | Path) -> dict[str, Any] | None:
    """The ``model`` config ({"type": ..., constructor arguments}) a weights file was trained with: from its
    safetensors metadata (written by ``lowface train``), else from the ``config.yaml`` of the run folder it lies
    in; None when neither says."""
    path = Path(path)
    with safetensors.safe_open(str(path), "pt") as handle:
        metadata = handle.metadata() or {}
    if "model" in metadata:
        return json.loads(metadata["model"])
    config = path.parent / "config.yaml"
    if config.is_file():
        import yaml

        model = (yaml.safe_load(config.read_text()) or {}).get("model")
        return model if isinstance(model, dict) else None
    return None


def constructor_arguments(name: str, weights: str | Path | None = None) -> dict[str, Any]:
    """The arguments the named enhancer is built with: those ``weights`` were trained with where the file records
    them (:func:`weights_architecture`; its architecture must be the named one's), else the manifest's."""
    card = model_card(name)
    if weights is None or Path(weights).suffix != ".safetensors" or not Path(weights).is_file():
        return dict(card.kwargs)
    trained = weights_architecture(weights)
    if trained is None:
        return dict(card.kwargs)
    if trained.get("type") != card.architecture:
        raise ValueError(
            f"{weights}: trained as a {trained.get('type')!r}, not as {name}'s architecture {card.architecture!r}"
        )
    return {k: v for k, v in trained.items() if k != "type"}


def split_model_spec(spec: str) -> tuple[str, str | None]:
    """``"name"`` or ``"name:weights.safetensors"`` -> (name, weights or None); a weights file that is not there is
    refused by name."""
    name, _, weights = spec.partition(":")
    if weights and not Path(weights).is_file():
        raise FileNotFoundError(f"{spec}: no weights file {weights}")
    return name, weights or None


def create_model(name: str, weights: str | Path | None = None) -> EnhancementModel:
    """Build the named enhancer in eval mode, on CPU, with its shipped (or the given) weights loaded.

    Given weights are built with the constructor arguments they were trained with (see
    :func:`weights_architecture`) when they record them; their architecture must be the named one's. Shipped weights
    come with the int8 runtime's own where the card has them (``int8``: the denoiser's tensors trained through the int8
    simulation, for :meth:`~lowface.models.restore_net.ReflectanceDenoiser.use_int8_weights`); given ones run alone."""
    card = model_card(name)
    if card.architecture == "routed":
        if weights is not None:
            raise ValueError(
                f"{name} chooses between {card.kwargs['fast']} and {card.kwargs['restore']}; it takes no weights "
                "file (give --weights with one of those two instead)"
            )
        networks = create_model(card.kwargs["fast"]), create_model(card.kwargs["restore"])
        router = shipped_router(card.kwargs["router"])
        exposure = shipped_exposure(card.kwargs["exposure"]) if "exposure" in card.kwargs else None
        blend, detail = (tuple(card.kwargs[k]) if k in card.kwargs else None for k in ("blend", "detail_blend"))
        names = (card.kwargs["fast"], card.kwargs["restore"])
        chroma = ChromaSmoothing(**card.kwargs["chroma"]) if "chroma" in card.kwargs else None
        return RoutedModel(*networks, router, names, exposure, blend, detail, chroma).eval()
    model = MODELS.create(card.architecture, **constructor_arguments(name, weights))
    if weights is not None:
        _load_weights(model, load_state_dict(weights))
    elif card.file is not None:
        _load_weights(model, load_state_dict(shipped_weights_path(card), card.sha256))
        if card.int8:
            _use_int8_weights(model, load_state_dict(package_file(WEIGHTS, card.int8["file"]), card.int8["sha256"]))
    return model.eval().requires_grad_(False)


def _use_int8_weights(model: EnhancementModel, state: dict) -> None:
    """Give each submodule with ``use_int8_weights`` its part of ``state`` (keys as in ``state_dict()``); all placed."""
    placed = set()
    for path, module in model.named_modules():
        prefix = f"{path}." if path else ""
        part = {key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)}
        if part and hasattr(module, "use_int8_weights"):
            module.use_int8_weights(part)
            placed.update(prefix + key for key in part)
    if placed != set(state):
        raise ValueError(f"int8 weights with no int8-capable module to take them: {sorted(set(state) - placed)[:5]}")


def _load_weights(model: EnhancementModel, state: dict) -> None:
    """``model.load_state_dict(state)``, strict, except that an int8-aware network takes a file without its int8
    ranges (an earlier version's, one that records no arguments): they stay untracked, and ``--precision int8`` runs
    its float path."""
    for key, value in model.state_dict().items():
        if ".quantisers." in key and key not in state:
            state[key] = value
    model.load_state_dict(state)
