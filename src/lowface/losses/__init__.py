"""Training losses of Low-FaceNet's modules."""

from lowface.losses.contrastive import BrightnessContrastLoss, FeatureContrastLoss
from lowface.losses.feature import ColorLoss, PerceptualLoss, SmoothLoss
from lowface.losses.objective import PAPER_WEIGHTS, LowFaceNetObjective

__all__ = [
    "PAPER_WEIGHTS",
    "BrightnessContrastLoss",
    "ColorLoss",
    "FeatureContrastLoss",
    "LowFaceNetObjective",
    "PerceptualLoss",
    "SmoothLoss",
]
