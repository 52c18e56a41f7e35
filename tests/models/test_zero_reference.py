"""The competitor systems: Zero-DCE, Zero-DCE++, SCI and Deep RetinexNet, their models and losses."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from conftest import assert_close
from lowface.inference.enhancer import Enhancer
from lowface.losses.retinexnet import RetinexDecomObjective, structure_aware_smoothness
from lowface.losses.zero_reference import (
    SCIObjective,
    color_constancy_loss,
    curve_smoothness_loss,
    exposure_loss,
    spatial_consistency_loss,
)
from lowface.models.retinexnet import RetinexNet, RetinexNetOutput
from lowface.models.sci import SCI
from lowface.models.zero_dce import ZeroDCE, ZeroDCEPlusPlus, apply_curves


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_published_networks():
    assert count(ZeroDCE()) == 79_416  # Zero-DCE paper: 79,416
    assert count(ZeroDCEPlusPlus()) == 10_561  # Zero-DCE++ paper: 10,561
    assert count(SCI().estimator) == 258  # the deployed part of SCI: three 3-channel 3x3 convolutions + BN


def test_light_enhancement_curve_known_values():
    x = torch.full((1, 3, 1, 1), 0.5)
    assert apply_curves(x, torch.ones(1, 3, 1, 1), 1).flatten()[0] == pytest.approx(0.75)
    assert apply_curves(x, torch.ones(1, 3, 1, 1), 2).flatten()[0] == pytest.approx(0.75 + 0.75 * 0.25)
    per_iteration = torch.cat([torch.ones(1, 3, 1, 1), -torch.ones(1, 3, 1, 1)], 1)
    assert apply_curves(x, per_iteration, 2).flatten()[0] == pytest.approx(0.75 - 0.75 * 0.25)
    assert torch.equal(apply_curves(x, torch.zeros(1, 24, 1, 1), 8), x)  # A = 0: identity


def test_curve_outputs_stay_in_range_and_curves_in_minus_one_one():
    x = torch.rand(2, 3, 24, 24)
    for model in (ZeroDCE(), ZeroDCEPlusPlus(scale_factor=4)):
        out = model(x)
        assert out.image.shape == x.shape and out.image.min() >= 0 and out.image.max() <= 1
        assert out.curves.abs().max() <= 1


@pytest.mark.parametrize("model", [ZeroDCE(width=8), ZeroDCEPlusPlus(width=8, scale_factor=4), SCI().eval()])
def test_tiled_inference_is_exact(model):
    image = torch.rand(1, 3, 100, 90)
    whole = Enhancer(model, device="cpu", tile=0, gate=False).enhance_tensor(image)
    tiled = Enhancer(model, device="cpu", tile=40, gate=False).enhance_tensor(image)
    assert_close(tiled, whole, atol=1e-5, rtol=0)


def test_sci_runs_all_stages_in_training_and_one_at_inference():
    model = SCI(stages=3)
    out = model.train()(torch.rand(2, 3, 16, 16))
    assert len(out.stage_inputs) == len(out.stage_illuminations) == 3
    assert torch.all(out.illumination >= 1e-4) and torch.all(out.illumination <= 1)
    assert model.eval()(torch.rand(1, 3, 16, 16)).stage_inputs == []


def test_sci_smoothness_is_its_released_form_a_plain_24_direction_total_variation():
    """A horizontal ramp of slope s per pixel in one channel: SCI's code sums the 24 directions' mean |differences|
    (offsets (dy, dx) with |dx| <= 2: 4 with |dx| = 0 ... each costing |dx| s), with colour weights of about 1."""
    slope = 0.01
    ramp = (torch.arange(32.0) * slope).expand(1, 1, 32, 32)
    illumination = torch.cat([ramp, torch.zeros(1, 2, 32, 32)], 1)
    stage_input = torch.rand(1, 3, 32, 32)  # its texture must not matter at sigma 10
    output = SimpleNamespace(stage_inputs=[stage_input], stage_illuminations=[illumination])
    smooth = SCIObjective().terms(output, None)["smooth"]()
    # the 24 offsets: |dx| = 0 for 4 of them, 1 for 10, 2 for 10 -> sum |dx| = 30
    assert smooth.item() == pytest.approx(30 * slope, rel=0.02)


def test_zero_dce_losses_known_values():
    low = torch.rand(2, 3, 32, 32)
    assert spatial_consistency_loss(low + 0.2, low) == pytest.approx(0.0, abs=1e-10)  # differences kept
    assert spatial_consistency_loss(2 * low, low) > 0
    assert exposure_loss(torch.full((1, 3, 32, 32), 0.6)) == pytest.approx(0.0, abs=1e-12)
    assert exposure_loss(torch.full((1, 3, 32, 32), 0.5)) == pytest.approx(0.01)
    assert color_constancy_loss(torch.full((1, 3, 8, 8), 0.3)) == pytest.approx(1e-6, rel=1e-3)  # sqrt(1e-12)
    grey = torch.ones(2, 3, 8, 8, requires_grad=True)  # a saturated, colourless crop: a finite (zero) gradient
    color_constancy_loss(grey).backward()
    assert torch.equal(grey.grad, torch.zeros_like(grey))
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1
    assert color_constancy_loss(red) == pytest.approx(2**0.5)  # (r-g)^2 = (r-b)^2 = 1, (g-b)^2 = 0
    assert curve_smoothness_loss(torch.ones(1, 24, 8, 8)) == 0
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 3, 8, 8)
    assert curve_smoothness_loss(ramp) == pytest.approx(2 * 3)  # three maps, squared step 1 horizontally


def test_retinexnet_matches_the_published_layout_and_decomposes_exactly():
    model = RetinexNet()
    assert count(model.decom) == 207_748 and count(model) == 444_613
    out = model(torch.rand(2, 3, 30, 27))
    assert out.image.shape == (2, 3, 30, 27) and out.illumination.shape == out.relit.shape == (2, 1, 30, 27)
    assert_close(out.image, (out.reflectance * out.relit).clamp(0, 1), rtol=1.3e-6, atol=1e-5)


def test_structure_aware_smoothness_forgives_illumination_edges_on_reflectance_edges():
    step = torch.zeros(1, 1, 16, 16)
    step[..., 8:] = 1
    flat = torch.full((1, 3, 16, 16), 0.5)
    edged = step.expand(1, 3, 16, 16)
    assert structure_aware_smoothness(torch.ones(1, 1, 16, 16), flat) == 0
    assert structure_aware_smoothness(step, edged) < 0.5 * structure_aware_smoothness(step, flat)


def test_retinexnet_decomposition_objective_stacks_the_pair_and_rebuilds_both():
    objective = RetinexDecomObjective()
    low, clean = torch.rand(2, 3, 8, 8) * 0.2, torch.rand(2, 3, 8, 8)
    batch = {"low": low, "clean": clean}
    assert torch.equal(objective.inputs(batch), torch.cat([low, clean]))
    reflectance = torch.cat([clean, clean])  # a perfect decomposition: shared R, grey illumination maps
    illumination = torch.cat([torch.full((2, 1, 8, 8), 0.2), torch.ones(2, 1, 8, 8)])
    output = RetinexNetOutput(reflectance, reflectance, illumination, illumination)
    batch["low"] = clean * 0.2
    total, terms = objective(output, batch)
    assert total < 1e-6 and set(terms) == {"reconstruction", "mutual_reconstruction", "reflectance_consistency",
                                           "illumination_smooth"}  # fmt: skip
    wrong = torch.cat([clean, torch.rand(2, 3, 8, 8)])  # the normal image's reflectance differs from the low one's
    _, terms = objective(RetinexNetOutput(wrong, wrong, illumination, illumination), batch)
    assert terms["reflectance_consistency"] > 0.1 and terms["mutual_reconstruction"] > 0.05


def test_retinexnet_bm3d_option_denoises_dark_regions_of_the_reflectance():
    pytest.importorskip("bm3d", reason="RetinexNet's BM3D option needs the bm3d package (pip install bm3d==4.0.3)")
    from lowface.models.retinexnet import bm3d_reflectance

    generator = torch.Generator().manual_seed(0)
    flat = torch.full((1, 3, 48, 48), 0.5)
    noisy = (flat + 0.1 * torch.randn(flat.shape, generator=generator)).clamp(0, 1)
    dark, bright = torch.zeros(1, 1, 48, 48), torch.ones(1, 1, 48, 48)
    assert (bm3d_reflectance(noisy, dark, 0.1) - flat).abs().mean() < 0.5 * (noisy - flat).abs().mean()
    assert_close(bm3d_reflectance(noisy, bright, 0.1), noisy, rtol=1.3e-6, atol=1e-5)  # well lit: untouched
