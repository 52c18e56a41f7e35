"""Weighted logistic regression on standardised features: the small fitted models shipped as JSON (the exposure
gate, the noise router)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class LogisticFit:
    """p = sigmoid(((x - mean) / std) . coef + bias)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    coef: tuple[float, ...]
    bias: float


def fit_logistic(x: Tensor, y: Tensor, sample_weight: Tensor | None = None, l2: float = 1e-3) -> LogisticFit:
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
    return LogisticFit(tuple(mean.tolist()), tuple(std.tolist()), tuple(coef.detach().tolist()), float(bias.detach()))
