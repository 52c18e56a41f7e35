"""Weighted linear and logistic regression on standardised features: the small fitted models shipped as JSON (the
exposure gate, the noise router, the exposure target) share this form, its fits and its file format."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import ClassVar, TypeVar

import torch
from torch import Tensor

from lowface.assets import WEIGHTS, package_file, record_checksum

FIT_LICENCE = "MIT (fitted by lowface's own code on LFW's training list and SICE's train scenes; research use, as both)"
M = TypeVar("M", bound="LinearModel")


@dataclass(frozen=True)
class LinearModel:
    """s = ((features - mean) / std) . coef + bias; subclasses name their ``FEATURES``."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    coef: tuple[float, ...]
    bias: float

    FEATURES: ClassVar[tuple[str, ...]] = ()  # each subclass: the names of its features, in order

    def linear_from_features(self, features: Tensor) -> Tensor:
        """(B, F) features -> (B,) scores."""
        standard = (features - features.new_tensor(self.mean)) / features.new_tensor(self.std)
        return standard @ features.new_tensor(self.coef) + self.bias

    def to_dict(self) -> dict:
        return {"features": list(self.FEATURES), "mean": list(self.mean), "std": list(self.std),
                "coef": list(self.coef), "bias": self.bias}  # fmt: skip

    def save(self, path: Path, **details: object) -> None:
        """Write the model as JSON with the command that made it, the date, ``details`` and the licence (and its
        checksum into the SHA256SUMS beside it, where the folder keeps one)."""
        record = {**self.to_dict(), "command": " ".join(["python", *sys.argv]), "date": date.today().isoformat(),
                  **details, "licence": FIT_LICENCE}  # fmt: skip
        path.write_text(json.dumps(record, indent=2) + "\n")
        record_checksum(path)  # lowface/weights keeps a SHA256SUMS: a refitted model is listed again

    @classmethod
    def from_fit(cls: type[M], fit: LinearModel) -> M:
        return cls(fit.mean, fit.std, fit.coef, fit.bias)

    @classmethod
    def load_shipped(cls: type[M], file: str) -> M:
        """The fitted model shipped as ``lowface/weights/<file>``; its features must be this code's."""
        data = json.loads(package_file(WEIGHTS, file).read_text())
        if data.get("features") != list(cls.FEATURES):
            raise ValueError(f"{file}: features {data.get('features')} do not match this code's {list(cls.FEATURES)}")
        return cls(tuple(data["mean"]), tuple(data["std"]), tuple(data["coef"]), float(data["bias"]))


class LogisticModel(LinearModel):
    """p = sigmoid(((features - mean) / std) . coef + bias)."""

    def probability_from_features(self, features: Tensor) -> Tensor:
        """(B, F) features -> (B,) probabilities."""
        return torch.sigmoid(self.linear_from_features(features))


def fit_linear(x: Tensor, y: Tensor, sample_weight: Tensor | None = None, l2: float = 1e-3) -> LinearModel:
    """x (N, F) float features, y (N,) targets, sample_weight (N,) >= 0 -> the weighted least-squares fit (ridge
    penalty ``l2`` on coef, in units of the mean squared error)."""
    y = y.to(x.dtype)
    weight = torch.ones_like(y) if sample_weight is None else sample_weight.to(x.dtype)
    weight = weight / weight.sum()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-12)
    design = torch.cat([(x - mean) / std, torch.ones_like(y)[:, None]], 1)
    gram = design.T @ (design * weight[:, None])
    gram[:-1, :-1] += l2 * torch.eye(x.shape[1], dtype=x.dtype)
    solution = torch.linalg.solve(gram, design.T @ (weight * y))
    return LinearModel(tuple(mean.tolist()), tuple(std.tolist()), tuple(solution[:-1].tolist()), float(solution[-1]))


def fit_logistic(x: Tensor, y: Tensor, sample_weight: Tensor | None = None, l2: float = 1e-3) -> LogisticModel:
    """x (N, F) float features (the fit runs in their dtype), y (N,) labels in {0, 1}, sample_weight (N,) >= 0
    -> the fit (L-BFGS, L2 penalty ``l2`` on coef)."""
    y = y.to(x.dtype)
    weight = torch.ones_like(y) if sample_weight is None else sample_weight.to(x.dtype)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-12)
    standard = (x - mean) / std
    coef = torch.zeros(x.shape[1], dtype=x.dtype, requires_grad=True)
    bias = torch.zeros((), dtype=x.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([coef, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(standard @ coef + bias, y, reduction="none")
        loss = (loss * weight).sum() / weight.sum() + l2 * coef.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return LogisticModel(tuple(mean.tolist()), tuple(std.tolist()), tuple(coef.detach().tolist()), float(bias.detach()))
