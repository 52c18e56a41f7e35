"""LACR-VAE (seed 004, designed from its abstract) and light-aware contrastive regularisation."""

from __future__ import annotations

import pytest
import torch

from conftest import assert_close
from lowface.losses.lacr import LACRTerm, LACRVAEObjective, channel_statistics, lacr_ratio
from lowface.losses.objective import LowFaceNetObjective
from lowface.models.lacr_vae import LACRVAE, AttentionMultiScale, RegionCalibration


def test_lacr_ratio_known_values_and_direction():
    positive, negative = torch.zeros(2, 4), torch.ones(2, 4)
    assert lacr_ratio(torch.zeros(2, 4), positive, [negative]) == 0  # at the clean latent
    assert lacr_ratio(torch.full((2, 4), 0.25), positive, [negative]) == pytest.approx(0.25 / 0.75, rel=1e-5)
    assert lacr_ratio(torch.full((2, 4), 0.75), positive, [negative]) == pytest.approx(3.0, rel=1e-5)
    two = lacr_ratio(torch.full((2, 4), 0.25), positive, [negative, negative])
    assert two == pytest.approx(0.25 / 1.5, rel=1e-5)  # every negative pushes


def test_channel_statistics_shape_and_values():
    latent = torch.arange(8.0).view(1, 2, 2, 2)
    stats = channel_statistics(latent)
    assert_close(stats[0, :2], torch.tensor([1.5, 5.5]), rtol=1.3e-6, atol=1e-5)
    assert stats.shape == (1, 4)


def test_modules_keep_shape_and_the_model_samples_only_in_training():
    x = torch.rand(2, 16, 12, 10)
    assert AttentionMultiScale(16)(x).shape == x.shape
    assert RegionCalibration(16)(x).shape == x.shape
    model = LACRVAE(width=8, latent=8)
    torch.nn.init.normal_(model.head.weight, 0, 0.1)  # the zero-initialised head would hide the latent
    image = torch.rand(1, 3, 30, 26) * 0.2
    model.eval()
    assert_close(model(image).image, model(image).image, rtol=1.3e-6, atol=1e-5)  # the mean at inference
    model.train()
    assert not torch.equal(model(image).image, model(image).image)  # a sample in training
    out = model.eval()(image)
    assert out.image.shape == image.shape and out.mean.shape[1] == 8


def test_untrained_model_starts_as_a_four_times_brightening():
    model = LACRVAE(width=8, latent=8).eval()
    image = torch.rand(1, 3, 20, 20) * 0.2
    assert_close(model(image).image, (image * 4).clamp(0, 1), atol=1e-5, rtol=0)


def test_paired_objective_terms_and_gradients():
    model = LACRVAE(width=8, latent=8)
    objective = LACRVAEObjective(None, model.latent)
    batch = {"low": torch.rand(2, 3, 24, 24) * 0.2, "clean": torch.rand(2, 3, 24, 24)}
    total, terms = objective(model(batch["low"]), batch)
    assert set(terms) == {"reconstruction", "kl", "lacr"}
    total.backward()
    assert all(p.grad is not None for p in model.encoder_parameters())


def test_lacr_is_a_drop_in_term_of_low_facenet_objective():
    with pytest.raises(ValueError, match="lacr term needs"):
        LowFaceNetObjective(None, {"lacr": 1.0})
    encoder = LACRVAE(width=8, latent=8).eval().requires_grad_(False)
    objective = LowFaceNetObjective(None, {"lacr": 1.0}, lacr=LACRTerm(encoder.latent))
    enhanced = torch.rand(2, 3, 24, 24, requires_grad=True)
    batch = {"low": torch.rand(2, 3, 24, 24) * 0.2, "positive": torch.rand(2, 3, 24, 24),
             "negative": torch.rand(2, 3, 24, 24) * 0.2}  # fmt: skip
    output = type("Out", (), {"reflectance": enhanced, "illumination": enhanced})()
    total, terms = objective(output, batch)
    assert set(terms) == {"lacr"} and total > 0
    total.backward()
    assert enhanced.grad.abs().sum() > 0
