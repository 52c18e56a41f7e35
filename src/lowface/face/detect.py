"""One face-detection interface over the offline detectors, registered by name in ``lowface.registry.DETECTORS``:
``create_detector(name).detect(image)``.

``mtcnn``: MTCNN (boxes, 5 landmarks: eye centres, nose tip, mouth corners).
``hog``: dlib's HOG detector (dlib-bin) + dlib's 5-point predictor (eye corners, nose bottom); its
landmarks are reported as eye centres (mean of the two corners) and nose, mouth corners NaN.
``blazeface``: MediaPipe's BlazeFace short-range detector (mediapipe 0.10.21, the parse extra; faces within
~2 m of a phone camera, i.e. large in the frame); eye centres and nose tip, mouth corners NaN.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from lowface.face.mtcnn import MTCNN, Detection
from lowface.face.packages import FaceModelMissing, packaged_file
from lowface.io import tensor_to_uint8
from lowface.registry import DETECTORS

DETECTORS.register("mtcnn")(MTCNN)


@DETECTORS.register("hog")
class HOGDetector:
    """dlib's frontal-face HOG detector with 5-point landmarks; image (3, H, W) RGB in [0, 1]."""

    def __init__(self, upsample: int = 1):
        try:
            import dlib
        except ImportError:
            raise FaceModelMissing("the hog detector needs dlib-bin (pip install 'lowface[face]')") from None
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(packaged_file("dlib_shape_predictor_5")))
        self.upsample = upsample

    def points_in_box(self, image: Tensor, box: np.ndarray) -> np.ndarray:
        """dlib's 5 landmarks (5, 2) inside a face box (x1, y1, x2, y2) found by any detector."""
        import dlib

        pixels = tensor_to_uint8(image)
        rect = dlib.rectangle(*(int(np.rint(v)) for v in box))
        return np.array([[p.x, p.y] for p in self.predictor(pixels, rect).parts()], float)

    def detect(self, image: Tensor) -> list[Detection]:
        pixels = tensor_to_uint8(image)
        rects, scores, _ = self.detector.run(pixels, self.upsample, 0.0)
        found = []
        for rect, score in zip(rects, scores, strict=True):
            points = np.array([[p.x, p.y] for p in self.predictor(pixels, rect).parts()], float)
            landmarks = np.full((5, 2), np.nan)
            landmarks[0], landmarks[1], landmarks[2] = points[2:4].mean(0), points[0:2].mean(0), points[4]
            box = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], float)
            detection = Detection(box, landmarks, float(score))
            object.__setattr__(detection, "dlib_points", points)  # the raw 5 points, for dlib's chips
            found.append(detection)
        return sorted(found, key=lambda d: -d.score)


@DETECTORS.register("blazeface")
class BlazeFaceDetector:
    """MediaPipe BlazeFace (short range); image (3, H, W) RGB in [0, 1]."""

    def __init__(self, min_confidence: float = 0.5):
        try:
            from mediapipe.python.solutions import face_detection
        except ImportError:
            raise FaceModelMissing(
                "the blazeface detector needs mediapipe==0.10.21 (pip install 'lowface[parse]' and "
                "pip install --no-deps mediapipe==0.10.21)"
            ) from None
        packaged_file("mediapipe_face_detector")
        self.detector = face_detection.FaceDetection(model_selection=0, min_detection_confidence=min_confidence)

    def detect(self, image: Tensor) -> list[Detection]:
        pixels = tensor_to_uint8(image)
        height, width = pixels.shape[:2]
        found = []
        for result in self.detector.process(pixels).detections or []:
            box = result.location_data.relative_bounding_box
            x1, y1 = box.xmin * width, box.ymin * height
            keypoints = [(k.x * width, k.y * height) for k in result.location_data.relative_keypoints]
            landmarks = np.full((5, 2), np.nan)
            # MediaPipe's keypoints: the subject's right eye (image left), left eye, nose tip, mouth, ears
            landmarks[0], landmarks[1], landmarks[2] = keypoints[0], keypoints[1], keypoints[2]
            found.append(
                Detection(np.array([x1, y1, x1 + box.width * width, y1 + box.height * height]), landmarks,
                          float(result.score[0]))
            )  # fmt: skip
        return sorted(found, key=lambda d: -d.score)


def most_central(detections: list[Detection], height: int, width: int) -> Detection | None:
    """The detection whose box centre is nearest the centre of an ``height`` x ``width`` image (None if none)."""
    centre = np.array([width / 2, height / 2])
    return min(detections, key=lambda d: np.linalg.norm((d.box[:2] + d.box[2:]) / 2 - centre), default=None)


def create_detector(name: str = "mtcnn"):
    """A detector by name (``lowface.registry.DETECTORS``); each has
    ``detect((3, H, W) RGB in [0, 1]) -> [Detection]``."""
    return DETECTORS.create(name)


__all__ = ["BlazeFaceDetector", "Detection", "HOGDetector", "create_detector", "most_central"]
