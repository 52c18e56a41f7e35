"""Differentiable alignment: reproduces dlib's face chips and FaceNet's crops; gradients reach the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import assert_close
from lowface.face.align import box_crop_transform, dlib_chip_transform, similarity_fit, warp


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rotation).T + shift
    assert_close(similarity_fit(src, dst), np.hstack([scale * rotation, shift[:, None]]), rtol=1e-5, atol=1e-8)


def test_box_crop_is_an_exact_resize_and_differentiable():
    image = torch.rand(1, 3, 40, 40, requires_grad=True)
    crop = warp(image, torch.from_numpy(box_crop_transform(np.array([10, 10, 30, 30]), 20))[None], 20)
    assert_close(crop, image[..., 10:30, 10:30], atol=1e-5, rtol=1e-5)
    crop.sum().backward()
    assert image.grad[..., 10:30, 10:30].abs().min() > 0 and image.grad[..., :10, :].abs().max() == 0


def test_reproduces_dlib_get_face_chip(data_root: Path):
    dlib = pytest.importorskip("dlib")
    from PIL import Image

    from lowface.face.packages import FaceModelMissing, packaged_file

    try:
        predictor = dlib.shape_predictor(str(packaged_file("dlib_shape_predictor_5")))
    except FaceModelMissing as exc:
        pytest.skip(str(exc))
    detector = dlib.get_frontal_face_detector()
    for name in (data_root / "lfw" / "pairs_unique_images.txt").read_text().split()[:3]:
        image = np.array(Image.open(data_root / "lfw" / "lfw-deepfunneled" / name).convert("RGB"))
        shape = predictor(image, detector(image, 1)[0])
        expected = np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25)).astype(np.float32)
        points = np.array([[p.x, p.y] for p in shape.parts()], float)
        transform = torch.from_numpy(dlib_chip_transform(points)).float()[None]
        ours = warp(torch.from_numpy(image).permute(2, 0, 1)[None].float(), transform, 150)
        difference = np.abs(ours[0].permute(1, 2, 0).numpy() - expected)
        assert difference.max() <= 1.0 + 1e-3 and difference.mean() < 0.6  # dlib truncates to 8 bits
