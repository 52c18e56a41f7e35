"""Frozen pretrained CNNs used as feature extractors (losses, feature distances), registered by name in
``lowface.registry.BACKBONES``."""

from __future__ import annotations

from pathlib import Path

from lowface.backbones.base import FeatureExtractor, FrozenBackboneMissing
from lowface.backbones.efficientnet_lite import EfficientNetLiteFeatures, load_lite0
from lowface.backbones.vgg import VGG16Features
from lowface.registry import BACKBONES


@BACKBONES.register("efficientnet_lite0")
def _efficientnet_lite0(weights: str | Path | None = None) -> FeatureExtractor:
    """Weights from its registry package (sha256-checked) unless a file is given."""
    return EfficientNetLiteFeatures(load_lite0(weights) if weights else None)


@BACKBONES.register("vgg16")
def _vgg16(weights: str | Path | None = None) -> FeatureExtractor:
    """Needs a user-supplied torchvision-layout weights file (no registry package ships VGG-16)."""
    if weights is None:
        raise FrozenBackboneMissing("vgg16 features need a user-supplied weights file (no registry ships it)")
    return VGG16Features(weights)


def create_feature_extractor(name: str = "efficientnet_lite0", weights: str | Path | None = None) -> FeatureExtractor:
    """The frozen feature extractor registered as ``name`` (``lowface.registry.BACKBONES``)."""
    return BACKBONES.create(name, weights=weights)


__all__ = ["FeatureExtractor", "FrozenBackboneMissing", "create_feature_extractor"]
