"""Recognition pipelines: detect -> align (differentiable) -> embed, for each offline recognizer.

``dlib``: dlib HOG detector + 5-point landmarks -> dlib's 150 px chip -> dlib ResNet (128-d); where HOG finds
no face, dlib's 5-point predictor runs inside MTCNN's box instead (``backup_detector``).
``facenet``: MTCNN -> box + 32 px margin -> 160 px crop -> FaceNet CASIA (512-d).

Alignment transforms are computed once (e.g. on a clean image) and can be re-applied to another image of
the same geometry (its enhanced or dark version), with gradients flowing to that image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.face.align import box_crop_transform, dlib_chip_transform, warp
from lowface.face.detect import create_detector, most_central
from lowface.registry import RECOGNIZERS


@dataclass(frozen=True)
class Alignment:
    """Where a face is: the chip-to-image transform (2, 3), and whether a detector found it."""

    transform: np.ndarray
    detected: bool
    detector: str = ""  # which detector found it ("" when not detected)


class RecognitionPipeline(nn.Module):
    """A frozen recognizer with its detector and alignment. Images: (3, H, W) RGB in [0, 1]."""

    def __init__(
        self,
        recognizer: str = "facenet",
        fallback_fraction: float = 0.5,
        backup_detector: bool = True,
        flip: bool = False,
    ):
        """``flip``: embed each face and its mirror image and average (test-time augmentation, 2x cost)."""
        super().__init__()
        spec = RECOGNIZERS.create(recognizer)
        self.network, self.chip_size, self.margin = spec.load(), spec.chip_size, spec.margin
        self.alignment = spec.alignment
        self.name = recognizer
        self.detector = create_detector(spec.detector)
        self.detector_name = spec.detector
        self.backup = create_detector("mtcnn") if spec.alignment == "dlib5" and backup_detector else None
        self.fallback_fraction = fallback_fraction
        self.flip = flip

    def align(self, image: Tensor) -> Alignment:
        """Detect the most central confident face; if none, a centred box of ``fallback_fraction`` of the
        shorter side (LFW-style centred photos), flagged as not detected."""
        height, width = image.shape[-2:]
        detections = self.detector.detect(image.detach().cpu())
        if detections:
            best = most_central(detections, height, width)
            if self.alignment == "dlib5":
                return Alignment(dlib_chip_transform(best.dlib_points, self.chip_size), True, self.detector_name)
            return Alignment(box_crop_transform(best.box, self.chip_size, self.margin), True, self.detector_name)
        if self.backup is not None and (found := self.backup.detect(image.detach().cpu())):
            best = most_central(found, height, width)
            points = self.detector.points_in_box(image.detach().cpu(), best.box)
            return Alignment(dlib_chip_transform(points, self.chip_size), True, "mtcnn")
        side = self.fallback_fraction * min(height, width)
        box = np.array([(width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2])
        return Alignment(box_crop_transform(box, self.chip_size), False)

    def chips(self, images: Tensor, alignments: list[Alignment]) -> Tensor:
        """(B, 3, H, W) images + one alignment each -> (B, 3, chip, chip) aligned faces (differentiable)."""
        transforms = torch.from_numpy(np.stack([a.transform for a in alignments])).to(images)
        return warp(images, transforms, self.chip_size)

    def embed(self, images: Tensor, alignments: list[Alignment]) -> Tensor:
        """(B, 3, H, W) -> (B, D) unit-length embeddings; gradients reach the images."""
        chips = self.chips(images, alignments)
        if not self.flip:
            return F.normalize(self.network(chips), dim=1)
        both = self.network(torch.cat([chips, chips.flip(-1)]))
        return F.normalize(both[: len(chips)] + both[len(chips) :], dim=1)
