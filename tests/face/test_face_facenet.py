"""FaceNet (Inception-ResNet-v1, CASIA-WebFace) executed from its frozen TF graph in PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import assert_close
from lowface.face.facenet import CROP_SIZE, fixed_standardization, load_facenet


@pytest.fixture(scope="module")
def facenet():
    from lowface.face.packages import FaceModelMissing

    try:  # its package's __init__ imports a detector we do not install: never import it, locate the file
        return load_facenet()
    except FaceModelMissing as exc:
        pytest.skip(str(exc))


def _crops(data_root: Path, count: int) -> np.ndarray:
    from PIL import Image

    names = (data_root / "lfw" / "pairs_unique_images.txt").read_text().split()[::2000][:count]
    images = [np.asarray(Image.open(data_root / "lfw" / "lfw-deepfunneled" / n).convert("RGB")) for n in names]
    return np.stack([im[45:205, 45:205] for im in images]).astype(np.float32) / 255.0  # centre 160x160 crops


def test_matches_opencv_dnn_on_real_lfw_faces(facenet, data_root: Path):
    cv2 = pytest.importorskip("cv2")
    from lowface.face.packages import packaged_file

    try:
        reference = cv2.dnn.readNetFromTensorflow(str(packaged_file("facenet_casia")))
    except cv2.error:
        pytest.skip("this OpenCV cannot read the graph (needs opencv 5.x)")
    crops = torch.from_numpy(_crops(data_root, 3)).permute(0, 3, 1, 2)
    with torch.no_grad():
        ours = facenet(crops).numpy()
    for i in range(len(crops)):
        reference.setInput(fixed_standardization(crops[i : i + 1]).numpy())
        expected = reference.forward().ravel()
        assert np.abs(ours[i] - expected).max() < 1e-4
    assert_close(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5, rtol=1e-5)


def test_gradients_reach_the_pixels_and_batches_are_independent(facenet):
    torch.manual_seed(0)
    crops = torch.rand(2, 3, CROP_SIZE, CROP_SIZE, requires_grad=True)
    embeddings = facenet(crops)
    assert embeddings.shape == (2, 512)
    embeddings[0].sum().backward()
    assert crops.grad[0].abs().sum() > 0 and crops.grad[1].abs().sum() == 0
