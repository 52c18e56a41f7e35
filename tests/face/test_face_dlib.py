"""dlib's face recognition ResNet in PyTorch: matches dlib itself, and gradients reach the pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lowface.face.dlib_format import DlibFormatError
from lowface.face.dlib_resnet import CHIP_SIZE, add_zero_padded, load_dlib_resnet


@pytest.fixture(scope="module")
def resnet():
    from lowface.face.packages import FaceModelMissing

    try:
        return load_dlib_resnet()
    except FaceModelMissing as exc:
        pytest.skip(str(exc))


def test_matches_dlib_on_real_lfw_faces(resnet, data_root: Path):
    dlib = pytest.importorskip("dlib", reason="the reference needs dlib-bin")
    from PIL import Image

    from lowface.face.packages import packaged_file

    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(packaged_file("dlib_shape_predictor_5")))
    reference = dlib.face_recognition_model_v1(str(packaged_file("dlib_resnet")))
    names = (data_root / "lfw" / "pairs_unique_images.txt").read_text().split()[::1500][:5]
    compared = 0
    for name in names:
        image = np.asarray(Image.open(data_root / "lfw" / "lfw-deepfunneled" / name).convert("RGB"))
        faces = detector(image, 1)
        if not faces:
            continue
        chip = np.asarray(dlib.get_face_chip(image, landmarks(image, faces[0]), size=CHIP_SIZE, padding=0.25))
        expected = np.array(reference.compute_face_descriptor(chip))
        with torch.no_grad():
            ours = resnet(torch.from_numpy(chip).permute(2, 0, 1)[None].float() / 255)[0].numpy()
        assert np.abs(ours - expected).max() < 1e-4, name
        compared += 1
    assert compared >= 4


def test_gradients_reach_the_pixels(resnet):
    chips = torch.rand(2, 3, CHIP_SIZE, CHIP_SIZE, requires_grad=True)
    descriptors = resnet(chips)
    assert descriptors.shape == (2, 128)
    torch.nn.functional.cosine_similarity(descriptors[0:1], descriptors[1:2]).sum().backward()
    assert chips.grad is not None and chips.grad.abs().sum() > 0


def test_add_zero_padded_matches_dlib_add_prev_semantics():
    a = torch.ones(1, 2, 3, 3)
    b = torch.full((1, 4, 4, 4), 2.0)
    out = add_zero_padded(a, b)
    assert out.shape == (1, 4, 4, 4)
    assert out[0, 0, 0, 0] == 3 and out[0, 3, 0, 0] == 2 and out[0, 0, 3, 3] == 2


def test_wrong_file_is_refused(tmp_path: Path):
    bogus = tmp_path / "not_a_net.dat"
    bogus.write_bytes(b"\x01\x05con_4" + b"\x00" * 64)
    with pytest.raises(DlibFormatError, match="not dlib's face recognition ResNet"):
        load_dlib_resnet(bogus)
