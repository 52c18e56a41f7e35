"""Recognition pipelines end to end on real LFW pairs, and gradients from the embedding to the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import assert_close
from lowface.data.lfw import lfw_image_path, lfw_pairs
from lowface.face.packages import FaceModelMissing
from lowface.face.pipeline import RECOGNIZERS, RecognitionPipeline
from lowface.io import image_to_tensor, read_image
from lowface.metrics.face import verification_accuracy


@pytest.fixture(scope="module", params=RECOGNIZERS)
def pipeline(request):
    try:
        return RecognitionPipeline(request.param)
    except (FaceModelMissing, ImportError) as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
def test_first_600_lfw_pairs_verify_at_98_percent(pipeline, data_root: Path):
    """Official fold 1 (300 same + 300 different pairs, ~1,100 images), 10-fold protocol inside it."""
    pairs = lfw_pairs(data_root)[:600]
    keys = sorted({p.first for p in pairs} | {p.second for p in pairs})
    vectors = {}
    for start in range(0, len(keys), 32):
        chunk = keys[start : start + 32]
        images = torch.stack([image_to_tensor(read_image(lfw_image_path(data_root, *k)).rgb)[0] for k in chunk])
        with torch.inference_mode():
            embedded = pipeline.embed(images, [pipeline.align(image) for image in images])
        vectors.update(zip(chunk, embedded.numpy(), strict=True))
    scores = np.array([float(vectors[p.first] @ vectors[p.second]) for p in pairs])
    same = np.array([p.same for p in pairs])
    result = verification_accuracy(scores, same, np.arange(len(pairs)) % 10)
    assert round(result.accuracy, 6) >= 0.98, (pipeline.name, result)


def test_gradients_flow_from_identity_to_pixels(pipeline, lfw_faces):
    image = torch.from_numpy(lfw_faces[0]).permute(2, 0, 1)
    alignment = pipeline.align(image)
    assert alignment.detected
    dark = (image * 0.3)[None].requires_grad_(True)
    embedding = pipeline.embed(dark, [alignment])
    assert_close(embedding.norm(dim=1), torch.ones(1), atol=1e-5, rtol=1e-5)
    embedding.sum().backward()
    assert dark.grad.abs().sum() > 0


def test_flip_averages_the_face_and_its_mirror_image(pipeline, lfw_faces):
    image = torch.from_numpy(lfw_faces[0]).permute(2, 0, 1)[None]
    alignment = [pipeline.align(image[0])]
    with torch.inference_mode():
        chip = pipeline.chips(image, alignment)
        plain = pipeline.embed(image, alignment)
        pipeline.flip = True
        try:
            flipped = pipeline.embed(image, alignment)
        finally:
            pipeline.flip = False
        expected = torch.nn.functional.normalize(pipeline.network(chip) + pipeline.network(chip.flip(-1)), dim=1)
    assert_close(flipped, expected, atol=1e-5, rtol=0)
    assert 0.9 < float(plain @ flipped.T) < 1.0  # a mirrored face is the same person, but not the same vector
