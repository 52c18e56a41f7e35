"""FaceDatabase: gallery building, differentiable logits, identification, clear errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import assert_close
from lowface.face.database import FaceDatabase


def test_gallery_is_the_normalised_mean_per_identity_and_logits_are_cosines():
    samples = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])
    database = FaceDatabase.from_samples(samples, ["ann", "ann", "bob", "bob"])
    assert database.names == ["ann", "bob"]
    assert_close(database.embeddings[0], torch.tensor([2**-0.5, 2**-0.5]), rtol=1e-5, atol=1e-8)
    logits = database.logits(torch.tensor([[0.0, 5.0]]), scale=10.0)
    assert_close(logits, torch.tensor([[10 * 2**-0.5, 10.0]]), rtol=1e-5, atol=1e-8)
    assert database.identify(torch.tensor([[0.1, 1.0], [1.0, 0.9]]))[0][0] == "bob"


def test_identity_loss_gradients_reach_the_queries():
    torch.manual_seed(0)
    database = FaceDatabase(torch.randn(5, 8), [f"p{i}" for i in range(5)])
    queries = torch.randn(3, 8, requires_grad=True)
    loss = F.cross_entropy(database.logits(queries, scale=30), database.labels(["p1", "p2", "p4"]))
    loss.backward()
    assert queries.grad.abs().sum() > 0


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="unique"):
        FaceDatabase(torch.zeros(2, 3), ["a", "a"])
    database = FaceDatabase(torch.eye(2), ["a", "b"])
    with pytest.raises(KeyError, match="'zed' is not in the face database"):
        database.labels(["zed"])
