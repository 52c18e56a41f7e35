"""The detector interface: every offline detector finds LFW faces and reports boxes, landmarks, scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lowface.face.detect import create_detector
from lowface.face.packages import FaceModelMissing
from lowface.registry import DETECTORS


@pytest.mark.parametrize("name", DETECTORS.names())
def test_detectors_find_lfw_faces(name, lfw_faces):
    try:
        detector = create_detector(name)
    except FaceModelMissing as exc:
        pytest.skip(str(exc))
    for face in lfw_faces[:4]:
        detections = detector.detect(torch.from_numpy(face).permute(2, 0, 1))
        assert detections
        best = detections[0]
        assert best.box.shape == (4,) and best.landmarks.shape == (5, 2)
        assert best.landmarks[0, 0] < best.landmarks[1, 0]  # left eye left of right eye in the image
        assert np.all(np.abs((best.box[:2] + best.box[2:]) / 2 - 125) < 35)


def test_unknown_detector_lists_the_available_ones():
    with pytest.raises(KeyError, match="known: blazeface, hog, mtcnn"):
        create_detector("retinaface")
