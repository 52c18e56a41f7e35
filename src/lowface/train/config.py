"""Training configuration: a YAML file whose keys are exactly the fields of :class:`TrainConfig`."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lowface.losses.objective import ABLATIONS
from lowface.registry import OBJECTIVES


@dataclass
class TrainConfig:
    """Everything a training run depends on. Defaults follow the paper where it fits a CPU."""

    model: dict[str, Any] = field(default_factory=lambda: {"type": "enhance_net"})
    # start from these .safetensors weights (e.g. an earlier stage's output); a list: in turn, each entry PATH or
    # PATH#part,part (those parts only; train.checkpoints.load_initial_weights)
    init_from: str | list[str] | None = None
    data_root: str = "../shared/data"
    crop: int = 128
    ratio_range: tuple[float, float] = (0.1, 0.5)
    target_brightness: float | None = None
    synthesis: str | None = None  # a preset of lowface.data.synth.SYNTHESIS_PRESETS; None: Algorithm 1 with ratio_range
    face_sets: list[str] = field(default_factory=lambda: ["lfw"])  # "lfw" and/or "celeba" (its train people)
    face_zoom: tuple[float, float] = (1.0, 1.0)  # face images scaled by a factor in this range before cropping
    sice_share: float = 0.0  # share of training items from SICE's train scenes (real pairs); 1: SICE alone, no LFW
    sice_frames: str = "under"  # "under": under-exposed frames (-> reference); "all": every frame (zero-reference)
    sice_exposure: str = "reference"  # "matched": SICE outputs compared to the reference at their own brightness
    sice_lights: float = 0.0  # share of SICE pairs with light sources painted in (lowface.data.lights)
    batch_size: int = 2
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    steps: int = 1000
    objective: str = "lowfacenet"  # or a competitor's (lowface.losses.competitors): zero_dce, sci, retinexnet_decom...
    loss_weights: dict[str, float] | None = None  # per term; unnamed terms keep the objective's defaults
    distance: str = "statistics"
    use_negatives: bool = True
    features: str = "efficientnet_lite0"
    features_weights: str | None = None
    recognizer: str = "facenet"  # drives the face term; the other one judges
    teacher: str | None = None  # what a "distill" objective learns from: a catalogued model, or "name:file.safetensors"
    lacr_model: str = "lacr-vae"  # the catalogued LACR-VAE whose frozen encoder the "lacr" term uses
    face_scale: float = 1.0  # logits = scale x cosine (1: the paper's raw cosine)
    ablation: str = "full"  # a name of lowface.losses.objective.ABLATIONS, applied on load
    device: str | None = None  # None: CUDA, then MPS, then CPU; under torchrun each process takes its LOCAL_RANK GPU
    seed: int = 1
    out_dir: str = "runs/lowface"
    cache_dir: str | None = None  # parsing labels and face alignments of the training set; None: out_dir
    checkpoint_every: int = 50
    snapshot_every: int = 0  # >0: keep the weights every N steps as snapshots/step-N.safetensors (choose on val)
    log_every: int = 10
    max_minutes: float | None = None  # stop (checkpointed) after this many minutes of this session (per resume)
    threads: int | None = None
    workers: int = 0  # >0: prepare batches in this many background processes (same batches, resume-exact)
    train_only: list[str] | None = None  # train only parameters under these prefixes (e.g. [relight]); None: all

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(TrainConfig)
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if not _matches(value, hints[item.name]):
                raise ValueError(f"{item.name}: expected {_describe(hints[item.name])}, got {value!r}")
            if isinstance(value, int) and not isinstance(value, bool) and _matches(1.5, hints[item.name]):
                setattr(self, item.name, float(value))  # 1 for a float field is 1.0
        if "type" not in self.model:
            raise ValueError("config 'model' needs a 'type' key naming an architecture")
        self.ratio_range = tuple(self.ratio_range)  # type: ignore[assignment]
        self.face_zoom = tuple(float(v) for v in self.face_zoom)  # type: ignore[assignment]
        if self.ablation not in ABLATIONS:
            raise ValueError(f"unknown ablation {self.ablation!r}; available: {sorted(ABLATIONS)}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; available: {OBJECTIVES.names()}")
        if self.objective != "lowfacenet" and self.ablation != "full":
            raise ValueError(f"ablations are Low-FaceNet's; objective {self.objective!r} takes ablation 'full'")
        defaults = OBJECTIVES.get(self.objective).default_weights
        unknown = set(self.loss_weights or {}) - set(defaults)
        if unknown:
            raise ValueError(f"loss_weights: unknown terms {sorted(unknown)} for objective {self.objective!r}; "
                             f"known: {sorted(defaults)}")  # fmt: skip
        self.loss_weights = {name: float(w) for name, w in {**defaults, **(self.loss_weights or {})}.items()}
        if not 0 <= self.sice_share <= 1:
            raise ValueError(f"sice_share must be in [0, 1], got {self.sice_share}")
        if not 0 <= self.sice_lights <= 1:
            raise ValueError(f"sice_lights must be in [0, 1], got {self.sice_lights}")
        if self.sice_exposure not in ("reference", "matched"):
            raise ValueError(f"sice_exposure must be 'reference' or 'matched', got {self.sice_exposure!r}")
        if self.sice_frames not in ("under", "all"):
            raise ValueError(f"sice_frames must be 'under' or 'all', got {self.sice_frames!r}")
        if self.workers < 0:
            raise ValueError(f"workers must be 0 or more, got {self.workers}")
        if self.distance not in ("statistics", "aligned"):
            raise ValueError(f"distance must be 'statistics' or 'aligned', got {self.distance!r}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ratio_range"] = list(self.ratio_range)
        return data


def _matches(value: Any, hint: Any) -> bool:
    """Whether a YAML-loaded value fits a field's type hint (int for float is fine, bool for int is not)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            return False
        if origin is tuple and len(args) == len(value):
            return all(_matches(v, a) for v, a in zip(value, args, strict=True))
        return origin is list and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items())
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    return str(hint).replace("typing.", "")


def _coerce(overrides: list[str]) -> dict[str, Any]:
    """["a=1", "model.width=32"] -> nested dict with YAML-parsed values."""
    result: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not of the form key=value")
        target = result
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = yaml.safe_load(value)
    return result


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (or the defaults), apply ``key=value`` overrides; unknown keys and a config file that is
    empty (or only comments) are an error."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as exc:
            problem = " ".join(str(exc).split())
            raise ValueError(f"{path}: not valid YAML: {problem}") from None
        if loaded is None:  # (a config that came out empty - a failed edit - must not start a run on the defaults)
            raise ValueError(f"{path}: the training config is empty; give its keys, or no config for the defaults")
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a training config must be a mapping of keys to values")
        data = loaded
    defaults = TrainConfig().to_dict()
    defaults.pop("loss_weights")  # they depend on the objective; TrainConfig fills in the missing ones
    data = _merge(defaults, _merge(data, _coerce(overrides or [])))
    ablation = data.get("ablation", "full")
    if isinstance(ablation, str) and ablation in ABLATIONS:
        data = _merge(data, ABLATIONS[ablation])
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path or 'config'}: unknown keys {sorted(map(str, unknown))}; valid keys: {sorted(known)}")
    try:
        return TrainConfig(**data)
    except ValueError as exc:
        raise ValueError(f"{path or 'config'}: {exc}") from None
