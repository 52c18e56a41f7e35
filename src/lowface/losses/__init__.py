"""Training losses of Low-FaceNet's modules and of the competitor systems. Importing this package registers every
objective in ``lowface.registry.OBJECTIVES`` (see :mod:`.weighted`)."""

from lowface.losses import competitors, distill  # noqa: F401 (register the competitors' and distillation objectives)
from lowface.losses.contrastive import BrightnessContrastLoss, FeatureContrastLoss
from lowface.losses.feature import ColorLoss, PerceptualLoss, SmoothLoss
from lowface.losses.objective import PAPER_WEIGHTS, LowFaceNetObjective
from lowface.losses.weighted import ObjectiveParts, ObjectiveSpec, register_objective

__all__ = [
    "PAPER_WEIGHTS",
    "BrightnessContrastLoss",
    "ColorLoss",
    "FeatureContrastLoss",
    "LowFaceNetObjective",
    "ObjectiveParts",
    "ObjectiveSpec",
    "PerceptualLoss",
    "SmoothLoss",
    "register_objective",
]
