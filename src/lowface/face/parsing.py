"""LaPa-style face parsing from MediaPipe's 478-point face mesh plus its selfie (person) segmenter.

No parser network is trained: region polygons come from the mesh (skin = face oval, brows, eyes, nose hull,
upper/lower lip, inner mouth) and hair/background from the person segmenter: person pixels outside the face
oval and above the mouth line are hair, everything else not on the face is background (LaPa has no neck,
ear or clothes class). "Left" means the subject's left (image right on a frontal face), as in MediaPipe.

Both models ship inside PyPI ``mediapipe==0.10.21`` (Apache-2.0), the ``parse`` extra of lowface.
Labels are (H, W) uint8 maps with the class indices of ``LAPA_CLASSES``.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from lowface.face.packages import FaceModelMissing, packaged_file

LAPA_CLASSES = (
    "background",
    "skin",
    "left_brow",
    "right_brow",
    "left_eye",
    "right_eye",
    "nose",
    "upper_lip",
    "inner_mouth",
    "lower_lip",
    "hair",
)

# Mesh vertex indices (facts of MediaPipe's canonical face mesh), each an ordered polygon.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 326, 327, 294, 278, 344, 440, 275, 97, 98, 64, 48, 115, 220, 45)
OUTER_LIP_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
OUTER_LIP_LOWER = (291, 375, 321, 405, 314, 17, 84, 181, 91, 146, 61)
INNER_LIP_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LIP_LOWER = (308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78)


def _fill(labels: np.ndarray, points: np.ndarray, label: int) -> None:
    cv2.fillPoly(labels, [np.round(points * 16).astype(np.int32)], label, lineType=cv2.LINE_8, shift=4)


def labels_from_mesh(landmarks: np.ndarray, person: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise LaPa labels. landmarks: (>=468, 2) mesh points in pixels (x, y); person: (H, W) person
    probability in [0, 1] or None (then no hair); shape: (H, W). Returns (H, W) uint8 labels."""
    height, width = shape
    labels = np.zeros((height, width), np.uint8)
    points = np.asarray(landmarks, np.float64)[:, :2]
    oval = np.zeros_like(labels)
    _fill(oval, points[list(FACE_OVAL)], 1)
    if person is not None:
        mouth_y = points[list(OUTER_LIP_LOWER)][:, 1].mean()
        above_mouth = (np.arange(height) < mouth_y)[:, None]
        labels[(person > 0.5) & (oval == 0) & above_mouth] = LAPA_CLASSES.index("hair")
    labels[oval == 1] = LAPA_CLASSES.index("skin")
    _fill(labels, cv2.convexHull(points[list(NOSE)].astype(np.float32))[:, 0], LAPA_CLASSES.index("nose"))
    for polygon, name in ((LEFT_BROW, "left_brow"), (RIGHT_BROW, "right_brow"), (LEFT_EYE, "left_eye"),
                          (RIGHT_EYE, "right_eye")):  # fmt: skip
        _fill(labels, points[list(polygon)], LAPA_CLASSES.index(name))
    _fill(labels, points[list(OUTER_LIP_UPPER + INNER_LIP_UPPER[::-1])], LAPA_CLASSES.index("upper_lip"))
    _fill(labels, points[list(OUTER_LIP_LOWER + INNER_LIP_LOWER[::-1])], LAPA_CLASSES.index("lower_lip"))
    _fill(labels, points[list(INNER_LIP_UPPER + INNER_LIP_LOWER[1:-1])], LAPA_CLASSES.index("inner_mouth"))
    return labels


class FaceParser:
    """MediaPipe face mesh + selfie segmentation -> LaPa labels. ``parse`` takes (H, W, 3) uint8 RGB and
    returns (H, W) uint8 labels, or None when no face is found."""

    def __init__(self, min_confidence: float = 0.3):
        try:
            from mediapipe.python.solutions import face_mesh, selfie_segmentation
        except ImportError:
            raise FaceModelMissing(
                "face parsing needs mediapipe==0.10.21 (pip install 'lowface[parse]' and "
                "pip install --no-deps mediapipe==0.10.21)"
            ) from None
        for name in ("mediapipe_face_detector", "mediapipe_face_mesh", "mediapipe_selfie_segmentation"):
            packaged_file(name)  # present and sha256-checked before MediaPipe loads it
        self.mesh = face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=min_confidence
        )
        self.segmenter = selfie_segmentation.SelfieSegmentation(model_selection=0)

    def landmarks(self, rgb: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB -> (478, 2) mesh points in pixels, or None."""
        result = self.mesh.process(np.ascontiguousarray(rgb))
        if not result.multi_face_landmarks:
            return None
        height, width = rgb.shape[:2]
        return np.array([(p.x * width, p.y * height) for p in result.multi_face_landmarks[0].landmark])

    def parse(self, rgb: np.ndarray) -> np.ndarray | None:
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"FaceParser.parse needs (H, W, 3) uint8 RGB, got {rgb.dtype} {rgb.shape}")
        points = self.landmarks(rgb)
        if points is None:
            return None
        person = self.segmenter.process(np.ascontiguousarray(rgb)).segmentation_mask
        return labels_from_mesh(points, person, rgb.shape[:2])

    def close(self) -> None:
        self.mesh.close()
        self.segmenter.close()


# A distinct colour per class for overlays (background transparent).
PALETTE = np.array(
    [[0, 0, 0], [255, 204, 153], [102, 51, 0], [153, 102, 51], [0, 153, 255], [0, 102, 204], [255, 102, 0],
     [255, 0, 102], [102, 0, 51], [204, 0, 153], [51, 204, 51]], np.uint8,
)  # fmt: skip


def overlay(rgb: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend class colours over an (H, W, 3) uint8 image; background pixels unchanged."""
    colours = PALETTE[labels].astype(np.float32)
    mask = (labels > 0)[..., None]
    blended = np.where(mask, (1 - alpha) * rgb + alpha * colours, rgb)
    return blended.round().astype(np.uint8)


def class_histogram(labels: Iterable[np.ndarray]) -> dict[str, float]:
    """Fraction of pixels per class over a set of label maps."""
    counts = np.zeros(len(LAPA_CLASSES))
    for label in labels:
        counts += np.bincount(label.ravel(), minlength=len(LAPA_CLASSES))[: len(LAPA_CLASSES)]
    return {name: float(c / max(counts.sum(), 1)) for name, c in zip(LAPA_CLASSES, counts, strict=True)}
