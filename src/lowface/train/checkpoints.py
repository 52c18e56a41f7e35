"""The run folder's files: the model to train (fresh or from earlier weights), ``checkpoint.pt`` (model, optimizer,
step, time, RNG; resumable), ``config.yaml`` (history kept when a run resumes under another config) and the
exported ``.safetensors`` weights with the architecture they were trained as. Every file is written atomically."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
import yaml
from torch import nn

from lowface.io import atomic_write_bytes
from lowface.registry import MODELS


def build_model(model_config: dict[str, Any]) -> nn.Module:
    """The architecture ``model_config["type"]`` built with the other keys as constructor arguments."""
    kwargs = {k: v for k, v in model_config.items() if k != "type"}
    return MODELS.create(model_config["type"], **kwargs)


def initial_weight_entries(init_from: str | list[str] | None) -> list[tuple[str, list[str]]]:
    """An ``init_from`` setting (one ``PATH[#part,part]`` or a list of them) as (path, parts) in order; no parts:
    the whole file."""
    entries = [init_from] if isinstance(init_from, str) else list(init_from or [])
    return [(path, [part.strip() for part in parts.split(",") if part.strip()])
            for path, _, parts in (entry.partition("#") for entry in entries)]  # fmt: skip


def initial_weight_files(init_from: str | list[str] | None) -> list[str]:
    """The files an ``init_from`` setting names, without their parts."""
    return [path for path, _ in initial_weight_entries(init_from)]


def load_initial_weights(model: nn.Module, init_from: str | list[str]) -> None:
    """Load .safetensors weights into ``model``, one entry after another (a later one overwrites what an earlier one
    loaded). An entry ``PATH`` is the whole model, or one named part of it (e.g. the ``enhancer`` of a RestoreNet
    from FastEnhanceNet weights); ``PATH#part,part`` takes only those top-level parts from a file of the same model
    (e.g. the ``denoiser`` and ``tone`` of one RestoreNet into another whose ``enhancer`` differs). Parts no entry
    covers keep their initialisation. Raises when an entry fits no part, or a named part is missing or differs in
    shape. A file's int8 calibration (a denoiser's ``quantisers`` ranges: state, not weights) is left out where the
    model has no quantisers."""
    for path, parts in initial_weight_entries(init_from):
        if parts:
            _load_parts(model, path, parts)
        else:
            _load_whole_or_part(model, path)


def _weights_for(model_state: dict, path: str) -> dict:
    """``path``'s tensors less the int8 calibration ranges that ``model_state`` has no place for."""
    state = safetensors.torch.load_file(path)
    return {key: value for key, value in state.items() if ".quantisers." not in key or key in model_state}


def _load_parts(model: nn.Module, path: str, parts: list[str]) -> None:
    own = model.state_dict()
    state = _weights_for(own, path)
    for part in parts:
        taken = {key: value for key, value in state.items() if key.startswith(part + ".")}
        if not taken:
            raise ValueError(f"{path}: no tensors of a part {part!r}")
        wrong = [key for key, value in taken.items() if key not in own or own[key].shape != value.shape]
        if wrong or len(taken) != sum(key.startswith(part + ".") for key in own):
            raise ValueError(f"{path}: its {part!r} does not fit {type(model).__name__}'s ({', '.join(wrong[:3])})")
        model.load_state_dict(taken, strict=False)


def _load_whole_or_part(model: nn.Module, path: str) -> None:
    own = model.state_dict()
    state = _weights_for(own, path)

    def fits(candidate: dict) -> bool:
        return all(key in own and own[key].shape == value.shape for key, value in candidate.items())

    if fits(state):  # the whole model, or a model that has grown a new part (which keeps its initialisation)
        model.load_state_dict(state, strict=False)  # fits: no unexpected key; a missing one keeps its init
        return
    for prefix in sorted({key.split(".")[0] + "." for key in own}):
        renamed = {prefix + key: value for key, value in state.items()}
        if fits(renamed):
            model.load_state_dict(renamed, strict=False)
            return
    raise ValueError(f"{path}: its tensors match neither {type(model).__name__} nor one of its parts")


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int,
                    train_seconds: float) -> None:  # fmt: skip
    """Model, optimizer, step, training time and the torch RNG, written atomically."""
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "train_seconds": train_seconds, "torch_rng": torch.get_rng_state()}, buffer)  # fmt: skip
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    device: torch.device) -> tuple[int, float]:  # fmt: skip
    """Restore model, optimizer and RNG from ``path`` (``weights_only``); returns (step, training seconds)."""
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"].cpu())
    return int(state["step"]), float(state.get("train_seconds", 0.0))


def export_weights(path: Path, model: nn.Module, step: int, train_seconds: float, model_config: dict) -> Path:
    """The model's weights as safetensors, with the step, training time and architecture
    (what :func:`lowface.inference.catalogue.create_model` builds them as) in the metadata."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"step": str(step), "train_seconds": f"{train_seconds:.0f}", "model": json.dumps(model_config)}
    atomic_write_bytes(path, safetensors.torch.save(state, metadata=metadata))
    return path


def record_config(out_dir: Path, config: dict[str, Any], step: int) -> None:
    """Write ``config.yaml``; a run resumed under another config keeps the one it ran under so far as
    ``config-until-step-N.yaml``, so the folder says which settings made which steps."""
    path, text = out_dir / "config.yaml", yaml.safe_dump(config)
    if path.exists() and path.read_text() != text and step > 0:
        path.replace(out_dir / f"config-until-step-{step}.yaml")
    atomic_write_bytes(path, text.encode())
