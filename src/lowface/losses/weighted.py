"""The shape every training objective shares (a weighted sum of named, switchable loss terms) and how objectives
are registered by name (``objective:`` in a training config)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from lowface.registry import OBJECTIVES


class WeightedObjective(nn.Module):
    """A weighted sum of named terms; a term with weight 0 is not computed. Returns (total, {term: value}).

    ``weights`` overrides ``defaults`` term by term (names outside ``defaults`` are an error); subclasses say
    how to compute each term in :meth:`terms`.
    """

    def __init__(self, weights: Mapping[str, float], defaults: Mapping[str, float]):
        super().__init__()
        unknown = set(weights) - set(defaults)
        if unknown:
            raise KeyError(f"unknown loss terms {sorted(unknown)}; known: {sorted(defaults)}")
        self.weights = {name: float(weights.get(name, default)) for name, default in defaults.items()}

    def inputs(self, batch: Mapping[str, Tensor]) -> Tensor:
        """What the model runs on: the low-light crops (objectives on paired crops may stack more)."""
        return batch["low"]

    def terms(self, output, batch: Mapping[str, Tensor]) -> dict[str, Callable[[], Tensor]]:
        """{term: a function computing its unweighted value} for a model output and its batch."""
        raise NotImplementedError

    def forward(self, output, batch: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        compute = self.terms(output, batch)
        total, values = batch["low"].new_zeros(()), {}
        for name, weight in self.weights.items():
            if weight:
                value = compute[name]()
                values[name] = value.detach()
                total = total + weight * value
        return total, values


@dataclass
class ObjectiveParts:
    """What an objective factory may use, built by the trainer: the model being trained, the frozen feature
    extractor (None when no term needs one), the face identity loss (None without the face term), the contrastive
    settings, ``frozen(name)``, which loads a catalogued model frozen on the training device, and the name of the
    catalogued ``teacher`` a distillation objective learns from."""

    model: nn.Module
    features: nn.Module | None = None
    face_loss: nn.Module | None = None
    distance: str = "statistics"
    use_negatives: bool = True
    lacr_model: str = "lacr-vae"
    frozen: Callable[[str], nn.Module] | None = None
    teacher: str | None = None


@dataclass(frozen=True)
class ObjectiveSpec:
    """A registered objective: its default term weights and ``build(weights, parts) -> WeightedObjective``."""

    default_weights: Mapping[str, float]
    build: Callable[[Mapping[str, float], ObjectiveParts], WeightedObjective]


def register_objective(name: str, default_weights: Mapping[str, float]) -> Callable[[Any], Any]:
    """Decorator: register ``build(weights, parts)`` as objective ``name`` with these default weights."""

    def add(build: Callable[[Mapping[str, float], ObjectiveParts], WeightedObjective]) -> Any:
        OBJECTIVES.register(name)(ObjectiveSpec(default_weights, build))
        return build

    return add
