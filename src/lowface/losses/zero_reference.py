"""Zero-reference objectives of the paper's competitors: Zero-DCE / Zero-DCE++ and SCI.

Zero-DCE (Guo et al. 2020): spatial consistency, exposure control, color constancy and smoothness of the
curve maps. The forms and weights follow the authors' released training code (squared exposure error,
spatial consistency without absolute values, TV weight 200 for Zero-DCE and 1600 for Zero-DCE++), which is
what their published models were trained with; the paper's text gives slightly different forms.

SCI (Ma et al. 2022): at every stage, fidelity of the illumination to that stage's input (MSE, weight 1.5)
and smoothness of the illumination (weight 1): the 24-neighbour loss that Low-FaceNet's Eq. 7 took from SCI, in the
form of SCI's released code - the 24 direction terms summed, colour weights of sigma 10 (on [0, 1] images: all
about 1). Until 2026-12-01 this took Low-FaceNet's form (mean over directions, sigma 0.1): 24 times and more
weaker, and the trained SCI barely brightened.

Every loss is a mean over images of per-image means (crops of one size), so data-parallel training on N
processes gives the one-process result.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from lowface.losses.feature import SmoothLoss
from lowface.losses.weighted import WeightedObjective

ZERO_DCE_WEIGHTS = {"spatial": 1.0, "exposure": 10.0, "color": 5.0, "curve_smooth": 200.0}
ZERO_DCE_PP_WEIGHTS = {**ZERO_DCE_WEIGHTS, "curve_smooth": 1600.0}
SCI_WEIGHTS = {"fidelity": 1.5, "smooth": 1.0}


def spatial_consistency_loss(enhanced: Tensor, low: Tensor, region: int = 4) -> Tensor:
    """Neighbouring 4x4 regions keep their brightness differences: mean of (dY - dI)^2 over each region's four
    neighbours (each neighbour pair counted from both sides, as the paper's sum over four neighbours does)."""
    enhanced_mean = F.avg_pool2d(enhanced.mean(1, keepdim=True), region)
    low_mean = F.avg_pool2d(low.mean(1, keepdim=True), region)
    loss = enhanced.new_zeros(())
    for dim in (2, 3):
        delta = torch.diff(enhanced_mean, dim=dim) - torch.diff(low_mean, dim=dim)
        loss = loss + 2 * delta.pow(2).mean()
    return loss


def exposure_loss(enhanced: Tensor, level: float = 0.6, patch: int = 16) -> Tensor:
    """Mean squared distance of the 16x16 patch brightness (mean over RGB) to the well-exposed level 0.6."""
    return (F.avg_pool2d(enhanced.mean(1, keepdim=True), patch) - level).pow(2).mean()


def color_constancy_loss(enhanced: Tensor) -> Tensor:
    """Gray-world: sqrt of the sum over channel pairs of ((mean_p - mean_q)^2)^2, averaged over images.

    The square root's argument gets 1e-12 (a loss bias of 1e-6): at exactly zero - a colourless crop, such as the
    saturated sky of an over-exposed SICE frame - its gradient is 0 * inf = NaN, which stopped the first Zero-DCE
    runs on SICE."""
    r, g, b = enhanced.mean((2, 3)).unbind(1)
    pairs = torch.stack([(r - g).pow(2), (r - b).pow(2), (g - b).pow(2)], 1)
    return (pairs.pow(2).sum(1) + 1e-12).sqrt().mean()


def curve_smoothness_loss(curves: Tensor) -> Tensor:
    """Total variation of the curve maps: 2 (mean squared vertical + horizontal difference), summed over maps."""
    vertical = torch.diff(curves, dim=2).pow(2).sum(1).mean()
    horizontal = torch.diff(curves, dim=3).pow(2).sum(1).mean()
    return 2 * (vertical + horizontal)


class ZeroDCEObjective(WeightedObjective):
    """Zero-DCE's four non-reference losses on a :class:`~lowface.models.zero_dce.CurveOutput`."""

    def __init__(self, weights: Mapping[str, float] | None = None, defaults: Mapping[str, float] = ZERO_DCE_WEIGHTS):
        super().__init__(weights or {}, defaults)

    def terms(self, output, batch):
        enhanced, low = output.image, batch["low"]
        return {
            "spatial": lambda: spatial_consistency_loss(enhanced, low),
            "exposure": lambda: exposure_loss(enhanced),
            "color": lambda: color_constancy_loss(enhanced),
            "curve_smooth": lambda: curve_smoothness_loss(output.curves),
        }


class SCIObjective(WeightedObjective):
    """SCI's fidelity + smoothness, summed over the stages of a :class:`~lowface.models.sci.SCIOutput`."""

    def __init__(self, weights: Mapping[str, float] | None = None):
        super().__init__(weights or {}, SCI_WEIGHTS)
        self.smooth = SmoothLoss(sigma=10.0, over_directions="sum")

    def terms(self, output, batch):
        stages = list(zip(output.stage_inputs, output.stage_illuminations, strict=True))
        return {
            "fidelity": lambda: sum(F.mse_loss(light, stage_input) for stage_input, light in stages),
            "smooth": lambda: sum(self.smooth(light, stage_input) for stage_input, light in stages),
        }
