"""Recognition pipelines end to end on real LFW pairs, and gradients from the embedding to the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

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


def test_verifies_real_lfw_pairs(pipeline, data_root: Path):
    pairs = lfw_pairs(data_root)
    pairs = pairs[:10] + pairs[300:310]  # 10 same-person and 10 different-person pairs of fold 1
    scores = []
    for pair in pairs:
        images = torch.stack(
            [image_to_tensor(read_image(lfw_image_path(data_root, *key)).rgb)[0] for key in (pair.first, pair.second)]
        )
        with torch.no_grad():
            a, b = pipeline.embed(images, [pipeline.align(image) for image in images])
        scores.append(float(a @ b))
    same = np.array([p.same for p in pairs])
    result = verification_accuracy(np.array(scores), same, np.arange(len(pairs)) % 10)
    assert result.accuracy >= 0.95, (pipeline.name, result)


def test_gradients_flow_from_identity_to_pixels(pipeline, lfw_faces):
    image = torch.from_numpy(lfw_faces[0]).permute(2, 0, 1)
    alignment = pipeline.align(image)
    assert alignment.detected
    dark = (image * 0.3)[None].requires_grad_(True)
    embedding = pipeline.embed(dark, [alignment])
    assert torch.allclose(embedding.norm(dim=1), torch.ones(1), atol=1e-5)
    embedding.sum().backward()
    assert dark.grad.abs().sum() > 0
