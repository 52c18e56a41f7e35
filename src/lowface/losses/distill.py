"""Knowledge distillation: a smaller (faster) student learns to compute what a shipped network computes.

The teacher is a catalogued model, frozen; it runs on the same low-light crops as the student, so the student
needs no labels and can learn from any dark image, real or synthetic. Terms: ``teacher`` the L1 distance of the
enhanced images, ``teacher_illumination`` that of the log illumination maps (both Retinex models), and, for
synthetic or real pairs, Low-FaceNet's ``reconstruction`` / ``clean_perceptual`` / ``smooth`` terms, so that a
student can also be pulled towards the clean image where its teacher is wrong, and its ``face`` term (identity
cross-entropy through the frozen recognizer, paper Eq. 10), so that what a student loses is not the identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import torch
from torch import Tensor, nn

from lowface.losses.feature import PerceptualLoss, SmoothLoss
from lowface.losses.objective import exposure_matched_target
from lowface.losses.weighted import ObjectiveParts, WeightedObjective, register_objective
from lowface.models.base import output_image
from lowface.models.enhance_net import ILLUMINATION_FLOOR

DISTILL_WEIGHTS = {
    "teacher": 1.0,
    "teacher_illumination": 0.0,
    "reconstruction": 0.0,
    "clean_perceptual": 0.0,
    "smooth": 0.0,
    "face": 0.0,
}


class DistillationObjective(WeightedObjective):
    """Weighted distances of the student's output to its frozen teacher's (and optionally to the clean crop).

    ``batch`` holds "low" (B, 3, H, W) in [0, 1] and, for the paired terms, "clean" (B, 3, H, W). The teacher
    runs once per batch, without gradients, in eval mode.
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        teacher: nn.Module,
        features: nn.Module | None = None,
        face_loss: nn.Module | None = None,
    ):
        super().__init__(weights, DISTILL_WEIGHTS)
        if self.weights["clean_perceptual"] and features is None:
            raise ValueError("the clean_perceptual term needs a feature extractor")
        if self.weights["face"] and face_loss is None:
            raise ValueError("the face term needs a FaceIdentityLoss (recognizer + face database)")
        self.face = face_loss
        self.teacher = teacher.eval().requires_grad_(False)
        self.clean_perceptual = PerceptualLoss(features, tap="s8", exposure_matched=False) if features else None
        self.smooth = SmoothLoss()

    def train(self, mode: bool = True) -> DistillationObjective:
        super().train(mode)
        self.teacher.eval()  # frozen, always
        return self

    def terms(self, output, batch: Mapping[str, Tensor]) -> dict:
        low, enhanced = batch["low"], output_image(output)
        clean = cache(lambda: exposure_matched_target(enhanced, batch["clean"], batch.get("exposure_fixed")))
        taught: dict[str, object] = {}

        def teacher_output():
            if "output" not in taught:
                with torch.no_grad():
                    taught["output"] = self.teacher(low)
            return taught["output"]

        def illumination_gap() -> Tensor:
            student, teacher = output.illumination, teacher_output().illumination
            floor = ILLUMINATION_FLOOR
            return (torch.log(student.clamp_min(floor)) - torch.log(teacher.clamp_min(floor))).abs().mean()

        return {
            "teacher": lambda: (enhanced - output_image(teacher_output())).abs().mean(),
            "teacher_illumination": illumination_gap,
            "reconstruction": lambda: (enhanced - clean()).abs().mean(),
            "clean_perceptual": lambda: self.clean_perceptual(enhanced, clean()),
            "smooth": lambda: self.smooth(output.illumination, low),
            "face": lambda: self.face(enhanced, batch["chip_transform"], batch["identity"], batch["face_valid"]),
        }


@register_objective("distill", DISTILL_WEIGHTS)
def build_distill(weights: Mapping[str, float], parts: ObjectiveParts) -> DistillationObjective:
    """Distillation from the training config's ``teacher``: a catalogued model's name, or ``name:file.safetensors``."""
    if not parts.teacher or parts.frozen is None:
        raise ValueError("objective 'distill' needs a teacher: set 'teacher' to a catalogued model name (or name:file)")
    return DistillationObjective(weights, parts.frozen(parts.teacher), parts.features, parts.face_loss)
