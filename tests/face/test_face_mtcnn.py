"""MTCNN detector with the packaged weights: finds LFW faces with sensible landmarks, nothing in noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lowface.face.mtcnn import MTCNN, nms


@pytest.fixture(scope="module")
def mtcnn():
    from lowface.face.packages import FaceModelMissing

    try:
        return MTCNN()
    except FaceModelMissing as exc:
        pytest.skip(str(exc))


def test_finds_the_centred_lfw_face_with_ordered_landmarks(mtcnn, lfw_faces):
    for face in lfw_faces:
        detections = mtcnn.detect(torch.from_numpy(face).permute(2, 0, 1))
        assert detections, "no face found"
        best = detections[0]
        centre = (best.box[:2] + best.box[2:]) / 2
        assert np.all(np.abs(centre - 125) < 30) and best.score > 0.9
        left_eye, right_eye, nose, mouth_left, mouth_right = best.landmarks
        assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


def test_nothing_in_flat_grey_or_noise(mtcnn):
    assert mtcnn.detect(torch.full((3, 120, 160), 0.5)) == []
    generator = torch.Generator().manual_seed(0)
    assert len(mtcnn.detect(torch.rand(3, 120, 160, generator=generator))) <= 1


def test_nms_known_values():
    boxes = np.array([[0, 0, 9, 9], [1, 1, 10, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert nms(boxes, scores, 0.9).tolist() == [0, 1, 2]


def test_a_box_turned_inside_out_by_its_regression_is_dropped_before_cropping():
    from lowface.face.mtcnn import _proper, _regress, _square

    boxes = np.array([[10.0, 10, 40, 40], [10, 10, 40, 40]])
    offsets = np.array([[0.1, 0.1, -0.1, -0.1], [0.9, 0.9, -0.9, -0.9]])  # the second ends with x2 < x1
    candidates = _square(_regress(boxes, offsets))
    assert _proper(candidates).tolist() == [True, False]
