"""LaPa-style face parsing from the MediaPipe face mesh + person segmenter."""

from __future__ import annotations

import numpy as np
import pytest

from lowface.face.parsing import LAPA_CLASSES, overlay


@pytest.fixture(scope="module")
def parser():
    pytest.importorskip("mediapipe", reason="face parsing needs the parse extra (mediapipe==0.10.21)")
    from lowface.face.parsing import FaceParser

    return FaceParser()


def astronaut_face() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()[:260, 80:340]


def test_parser_finds_every_region_in_place(parser):
    image = astronaut_face()
    labels = parser.parse(image)
    assert labels.shape == image.shape[:2] and labels.dtype == np.uint8
    present = {LAPA_CLASSES[i] for i in np.unique(labels)}
    assert present == set(LAPA_CLASSES)
    ys, xs = np.mgrid[: labels.shape[0], : labels.shape[1]]

    def centre(name):
        mask = labels == LAPA_CLASSES.index(name)
        return xs[mask].mean(), ys[mask].mean()

    assert centre("left_eye")[0] > centre("right_eye")[0]  # the subject's left is on the image's right
    assert centre("left_brow")[1] < centre("left_eye")[1] < centre("nose")[1] < centre("upper_lip")[1]
    assert centre("upper_lip")[1] < centre("inner_mouth")[1] <= centre("lower_lip")[1]
    assert centre("hair")[1] < centre("left_eye")[1]
    mirrored = parser.parse(image[:, ::-1].copy())
    agreement = (mirrored[:, ::-1] > 0) == (labels > 0)
    assert agreement.mean() > 0.95


def test_parser_reports_no_face_and_rejects_bad_input(parser):
    assert parser.parse(np.zeros((64, 64, 3), np.uint8)) is None
    with pytest.raises(ValueError, match="uint8 RGB"):
        parser.parse(np.zeros((64, 64), np.float32))


def test_overlay_leaves_background_alone():
    image = np.full((4, 4, 3), 100, np.uint8)
    labels = np.zeros((4, 4), np.uint8)
    labels[0, 0] = 1
    out = overlay(image, labels)
    assert (out[1:] == 100).all() and not (out[0, 0] == 100).all()
