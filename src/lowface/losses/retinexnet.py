"""Deep RetinexNet's two training phases (Wei et al. 2018), on synthetic low / normal pairs of one scene.

Decomposition (``retinexnet_decom``): the model runs once on the low and the normal crop stacked in one
batch; R_i * I_j must rebuild S_j for all four pairs (weight 1 for i = j, 0.001 across), the two
reflectances must agree (0.01), and each illumination must be smooth where its reflectance is
(structure-aware smoothness, 0.1). Relighting (``retinexnet_relight``, decomposition frozen): R_low * I'
must rebuild the normal image (1) with I' smooth where R_low is (3). Weights of the authors' code.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from lowface.losses.weighted import WeightedObjective

DECOM_WEIGHTS = {"reconstruction": 1.0, "mutual_reconstruction": 0.001, "reflectance_consistency": 0.01,
                 "illumination_smooth": 0.1}  # fmt: skip
RELIGHT_WEIGHTS = {"relight_reconstruction": 1.0, "relight_smooth": 3.0}


def structure_aware_smoothness(illumination: Tensor, reflectance: Tensor) -> Tensor:
    """mean |grad I| exp(-10 avg3x3 |grad gray(R)|) over x and y: I may change only where R has edges.

    illumination (B, 1, H, W); reflectance (B, 3, H, W)."""
    gray = reflectance.mean(1, keepdim=True)
    loss = illumination.new_zeros(())
    for dim in (2, 3):
        grad_light = torch.diff(illumination, dim=dim).abs()
        grad_gray = F.avg_pool2d(torch.diff(gray, dim=dim).abs(), 3, stride=1, padding=1, count_include_pad=False)
        loss = loss + (grad_light * torch.exp(-10 * grad_gray)).mean()
    return loss


class RetinexDecomObjective(WeightedObjective):
    """Phase 1: decomposition of stacked (low, normal) pairs; output of RetinexNet on ``inputs(batch)``."""

    def __init__(self, weights: Mapping[str, float] | None = None):
        super().__init__(weights or {}, DECOM_WEIGHTS)

    def inputs(self, batch: Mapping[str, Tensor]) -> Tensor:
        return torch.cat([batch["low"], batch["clean"]])

    def terms(self, output, batch):
        r_low, r_high = output.reflectance.chunk(2)
        i_low, i_high = output.illumination.chunk(2)
        low, high = batch["low"], batch["clean"]
        return {
            "reconstruction": lambda: (r_low * i_low - low).abs().mean() + (r_high * i_high - high).abs().mean(),
            "mutual_reconstruction": lambda: (r_high * i_low - low).abs().mean() + (r_low * i_high - high).abs().mean(),
            "reflectance_consistency": lambda: (r_low - r_high).abs().mean(),
            "illumination_smooth": lambda: (
                structure_aware_smoothness(i_low, r_low) + structure_aware_smoothness(i_high, r_high)
            ),
        }


class RetinexRelightObjective(WeightedObjective):
    """Phase 2: relighting of the low image towards its normal pair (train with ``train_only: [relight]``)."""

    def __init__(self, weights: Mapping[str, float] | None = None):
        super().__init__(weights or {}, RELIGHT_WEIGHTS)

    def terms(self, output, batch):
        return {
            "relight_reconstruction": lambda: (output.reflectance * output.relit - batch["clean"]).abs().mean(),
            "relight_smooth": lambda: structure_aware_smoothness(output.relit, output.reflectance),
        }
