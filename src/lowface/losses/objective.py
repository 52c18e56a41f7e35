"""Low-FaceNet's total unpaired objective (Eq. 11), every term weighted and switchable for ablations."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from lowface.backbones.base import FeatureExtractor
from lowface.losses.contrastive import BrightnessContrastLoss, Distance, FeatureContrastLoss
from lowface.losses.feature import ColorLoss, PerceptualLoss, SmoothLoss
from lowface.models.enhance_net import Retinex

# The paper's weights (Eq. 4 and 8).
PAPER_WEIGHTS = {"feature_cr": 0.62, "brightness_cr": 0.22, "perceptual": 1.0, "color": 0.05, "smooth": 0.65}


class LowFaceNetObjective(nn.Module):
    """Weighted sum of the contrastive and feature-module losses; a term with weight 0 is not computed.

    Call with the low-light batch, the network's Retinex output, and unpaired positives/negatives; returns
    (total loss, {term: unweighted value}).
    """

    def __init__(
        self,
        features: FeatureExtractor,
        weights: Mapping[str, float] | None = None,
        distance: Distance = "statistics",
        use_negatives: bool = True,
    ):
        super().__init__()
        weights = dict(PAPER_WEIGHTS if weights is None else weights)
        unknown = set(weights) - set(PAPER_WEIGHTS)
        if unknown:
            raise KeyError(f"unknown loss terms {sorted(unknown)}; known: {sorted(PAPER_WEIGHTS)}")
        self.weights = {name: float(weights.get(name, 0.0)) for name in PAPER_WEIGHTS}
        self.feature_cr = FeatureContrastLoss(features, distance=distance, use_negatives=use_negatives)
        self.brightness_cr = BrightnessContrastLoss(distance=distance, use_negatives=use_negatives)
        self.perceptual = PerceptualLoss(features)
        self.color = ColorLoss()
        self.smooth = SmoothLoss()

    def forward(self, low: Tensor, output: Retinex, positive: Tensor, negative: Tensor) -> tuple[Tensor, dict]:
        enhanced = output.reflectance
        compute = {
            "feature_cr": lambda: self.feature_cr(enhanced, positive, negative),
            "brightness_cr": lambda: self.brightness_cr(enhanced, positive, negative),
            "perceptual": lambda: self.perceptual(enhanced, low),
            "color": lambda: self.color(enhanced, positive),
            "smooth": lambda: self.smooth(output.illumination, low),
        }
        total, terms = enhanced.new_zeros(()), {}
        for name, weight in self.weights.items():
            if weight:
                value = compute[name]()
                terms[name] = value.detach()
                total = total + weight * value
        return total, terms
