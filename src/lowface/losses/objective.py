"""Low-FaceNet's total unpaired objective (Eq. 11), every term weighted and switchable for ablations."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import torch
from torch import Tensor

from lowface.backbones.base import FeatureExtractor
from lowface.losses.contrastive import BrightnessContrastLoss, Distance, FeatureContrastLoss
from lowface.losses.face_identity import FaceIdentityLoss
from lowface.losses.feature import ColorLoss, ContrastLoss, DetailLoss, LabColourLoss, PerceptualLoss, SmoothLoss
from lowface.losses.lacr import LACRTerm
from lowface.losses.semantic import SemanticBrightnessLoss
from lowface.losses.weighted import ObjectiveParts, WeightedObjective, register_objective
from lowface.models.enhance_net import Retinex

# The paper's weights: contrastive and feature modules from Eq. 4 and 8; Eq. 11 adds the semantic and face
# modules with weight 1.
PAPER_WEIGHTS = {
    "feature_cr": 0.62,
    "brightness_cr": 0.22,
    "perceptual": 1.0,
    "color": 0.05,
    "smooth": 0.65,
    "semantic": 1.0,
    "face": 1.0,
}

# Beyond the paper: terms that need the clean image a synthetic low-light crop was made from (off by default).
# "lacr": LACR-VAE's light-aware contrastive regularisation in its frozen encoder's latent (seed 004), a
# drop-in alternative to the contrastive module. "clean_perceptual": the perceptual distance to the clean crop
# (stride-8 features of the same frozen backbone): a recognizer-agnostic pull towards the clean image's
# texture, against the blur an L1 reconstruction alone settles for on noisy inputs.
# "clean_detail": the L1 distance of the fine detail (image minus its blur) to the clean crop's, which reaches a
# high-passed denoiser where a plain L1 to a reference of another brightness does not (losses/feature.py).
# "clean_contrast": the clean crop's contrast and colourfulness (two numbers per image), against the flat, pale
# output per-pixel losses settle for under noise (losses/feature.py ContrastLoss).
# "clean_colour": the CIELAB difference to the clean crop after brightness matching (losses/feature.py LabColourLoss);
# "clean_chroma": the same on a* and b* alone.
EXTRA_WEIGHTS = {"reconstruction": 0.0, "lacr": 0.0, "clean_perceptual": 0.0, "clean_detail": 0.0,
                 "clean_contrast": 0.0, "clean_colour": 0.0, "clean_chroma": 0.0}  # fmt: skip
ALL_TERMS = {**PAPER_WEIGHTS, **EXTRA_WEIGHTS}
FEATURE_TERMS = ("feature_cr", "perceptual", "clean_perceptual")  # terms that need the feature extractor

# Table IV's ablations by name: config overrides applied on top of a full configuration.
ABLATIONS: dict[str, dict] = {
    "full": {},
    "no-negatives": {"use_negatives": False},
    "no-contrastive": {"loss_weights": {"feature_cr": 0.0, "brightness_cr": 0.0}},
    "no-feature": {"loss_weights": {"perceptual": 0.0, "color": 0.0, "smooth": 0.0}},
    "no-semantic": {"loss_weights": {"semantic": 0.0}},
    "no-face": {"loss_weights": {"face": 0.0}},
}


def exposure_matched_target(enhanced: Tensor, clean: Tensor, exposure_fixed: Tensor | None) -> Tensor:
    """The paired terms' target: ``clean`` (B, 3, H, W), except where ``exposure_fixed`` (B,) is False (a real
    reference whose exposure was the photographer's choice), where it is scaled to the enhanced image's mean
    brightness (a constant, no gradient): those pairs then teach structure, noise and colour, not exposure."""
    if exposure_fixed is None or bool(exposure_fixed.all()):
        return clean
    gain = (enhanced.mean((1, 2, 3), keepdim=True) / clean.mean((1, 2, 3), keepdim=True).clamp_min(1e-3)).detach()
    return torch.where(exposure_fixed.view(-1, 1, 1, 1), clean, clean * gain)


class LowFaceNetObjective(WeightedObjective):
    """Weighted sum of the four modules' losses; a term with weight 0 is not computed.

    ``batch`` holds "low" (B, 3, H, W), "positive" and "negative" (unpaired, same size), and for the semantic
    term "labels" (B, H, W), for the face term "chip_transform" (B, 2, 3), "identity" (B,), "face_valid" (B,),
    for the reconstruction and clean_* terms (paired data only) "clean"
    (B, 3, H, W).
    Returns (total loss, {term: unweighted value}).
    """

    def __init__(
        self,
        features: FeatureExtractor | None,
        weights: Mapping[str, float] | None = None,
        distance: Distance = "statistics",
        use_negatives: bool = True,
        face_loss: FaceIdentityLoss | None = None,
        lacr: LACRTerm | None = None,
    ):
        super().__init__(PAPER_WEIGHTS if weights is None else weights, dict.fromkeys(ALL_TERMS, 0.0))
        if any(self.weights[n] for n in FEATURE_TERMS) and features is None:
            raise ValueError(f"{', '.join(FEATURE_TERMS)} need a feature extractor")
        if self.weights["face"] and face_loss is None:
            raise ValueError("the face term needs a FaceIdentityLoss (recognizer + face database)")
        if self.weights["lacr"] and lacr is None:
            raise ValueError("the lacr term needs a LACRTerm (a trained LACR-VAE encoder)")
        self.feature_cr = FeatureContrastLoss(features, distance=distance, use_negatives=use_negatives)
        self.brightness_cr = BrightnessContrastLoss(distance=distance, use_negatives=use_negatives)
        self.perceptual = PerceptualLoss(features)
        self.clean_perceptual = PerceptualLoss(features, tap="s8", exposure_matched=False)
        self.color = ColorLoss()
        self.clean_detail = DetailLoss()
        self.clean_contrast = ContrastLoss()
        self.clean_colour = LabColourLoss()
        self.clean_chroma = LabColourLoss(lightness=False)
        self.smooth = SmoothLoss()
        self.semantic = SemanticBrightnessLoss()
        self.face = face_loss
        self.lacr = lacr

    def terms(self, output: Retinex, batch: Mapping[str, Tensor]) -> dict:
        enhanced, low = output.reflectance, batch["low"]
        clean = cache(lambda: exposure_matched_target(enhanced, batch["clean"], batch.get("exposure_fixed")))
        return {
            "feature_cr": lambda: self.feature_cr(enhanced, batch["positive"], batch["negative"]),
            "brightness_cr": lambda: self.brightness_cr(enhanced, batch["positive"], batch["negative"]),
            "perceptual": lambda: self.perceptual(enhanced, low),
            "color": lambda: self.color(enhanced, batch["positive"]),
            "smooth": lambda: self.smooth(output.illumination, low),
            "semantic": lambda: self.semantic(enhanced, batch["labels"]),
            "face": lambda: self.face(enhanced, batch["chip_transform"], batch["identity"], batch["face_valid"]),
            "reconstruction": lambda: (enhanced - clean()).abs().mean(),
            "clean_perceptual": lambda: self.clean_perceptual(enhanced, clean()),
            "clean_detail": lambda: self.clean_detail(enhanced, clean()),
            "clean_contrast": lambda: self.clean_contrast(enhanced, clean()),
            "clean_colour": lambda: self.clean_colour(enhanced, clean()),
            "clean_chroma": lambda: self.clean_chroma(enhanced, clean()),
            "lacr": lambda: self.lacr(enhanced, batch["positive"], low, batch["negative"]),
        }


@register_objective("lowfacenet", ALL_TERMS)
def build_lowfacenet(weights: Mapping[str, float], parts: ObjectiveParts) -> LowFaceNetObjective:
    """Low-FaceNet's objective; the lacr term (when weighted) uses the frozen encoder of ``parts.lacr_model``."""
    lacr = LACRTerm(parts.frozen(parts.lacr_model).latent) if weights.get("lacr", 0) and parts.frozen else None
    return LowFaceNetObjective(parts.features, weights, parts.distance, parts.use_negatives, parts.face_loss, lacr)
