"""int8 denoiser: close to the float network, only in CPU plain inference, exact under tiling, refused where it has
no calibration; the shipped calibration matches its network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import smooth_test_image
from lowface.inference.catalogue import create_model, model_card, model_fingerprint
from lowface.inference.enhancer import Enhancer
from lowface.inference.int8 import calibrate, int8_file, load_calibration, quantized_unet, use_int8
from lowface.inference.tiling import tiled_apply
from lowface.models import FastEnhanceNet, RestoreNet
from lowface.models.restore_net import GAIN_NORMALISER, space_to_depth


def _trained_like(seed: int = 0) -> RestoreNet:
    """A small RestoreNet whose denoiser output is not zero (an untrained one predicts exactly 0)."""
    torch.manual_seed(seed)
    net = RestoreNet(scale=4, width=8, denoiser_width=8, tone_width=4).eval()
    for parameter in net.denoiser.out.parameters():
        torch.nn.init.normal_(parameter, std=0.05)
    return net


def _folded(net: RestoreNet, x: torch.Tensor) -> torch.Tensor:
    base = net.enhancer(x)
    log_gain = -torch.log(base.illumination.mean(1, keepdim=True)) / GAIN_NORMALISER
    return space_to_depth([base.reflectance, log_gain], net.denoiser.unshuffle, net.denoiser.multiple)


def test_int8_unet_is_close_to_the_float_one_and_only_used_in_cpu_plain_inference():
    net = _trained_like()
    images = [torch.rand(1, 3, 48, 64) * 0.3 for _ in range(4)]
    with torch.no_grad():
        ranges = calibrate(net.denoiser, [_folded(net, x) for x in images])
        int8 = quantized_unet(net.denoiser, ranges)
        folded = _folded(net, images[0])
        reference = net.denoiser.unet(folded)
        assert (int8(folded) - reference).abs().max() < 0.05 * reference.abs().max()
        assert not torch.equal(int8(folded), reference)  # it is int8, not the float graph

        x = torch.rand(1, 3, 40, 56) * 0.3
        with torch.inference_mode():
            float_out = net(x).reflectance
        use_int8(net, ranges)
        with torch.inference_mode():
            int8_out = net(x).reflectance
        assert not torch.equal(int8_out, float_out)
        assert (int8_out - float_out).abs().mean() < 0.01
    with torch.enable_grad():  # training sees the float network, gradients included
        y = net(x.requires_grad_()).reflectance
        assert torch.allclose(y.detach(), float_out, atol=1e-5)
        y.sum().backward()
    assert net.denoiser.encode1[0][0].weight.grad is not None
    assert not any(k.startswith("int8") for k in net.state_dict())  # the saved weights stay the float ones


def test_int8_tiles_exactly():
    net = _trained_like(1)
    with torch.no_grad():
        ranges = calibrate(net.denoiser, [_folded(net, torch.rand(1, 3, 64, 64) * 0.3)])
    use_int8(net, ranges)
    x = torch.rand(1, 3, 96, 112) * 0.3
    with torch.inference_mode():
        whole = net.enhance(x)
        tiled = tiled_apply(net.enhance, x, 48, net.receptive_radius, net.size_multiple)
    assert torch.allclose(tiled, whole, atol=1e-6)


def test_int8_is_refused_without_a_restoring_network_or_calibration():
    with pytest.raises(ValueError, match="has none"):
        use_int8(FastEnhanceNet(), {})
    with pytest.raises(ValueError, match="this denoiser has"):
        quantized_unet(_trained_like().denoiser, {"activation_post_process_0": [0.1, 0, 0, 255]})
    with pytest.raises(ValueError, match="int8 needs a restoring network"):
        Enhancer.from_pretrained("lowface-fast", int8=True)
    with pytest.raises(ValueError, match="no int8 calibration"):
        Enhancer.from_pretrained("lowface-restore", int8=True)
    with pytest.raises(ValueError, match="not with --weights"):
        Enhancer.from_pretrained("lowface-restore-real", weights="x.safetensors", int8=True)


def test_shipped_calibration_fits_the_default_and_is_recorded_in_the_recipe():
    card = model_card("lowface-restore-real")
    ranges = load_calibration(card.file, model_fingerprint("lowface-restore-real"))
    assert int8_file(card.file) == "lowface-restore-real.int8.json"
    enhancer = Enhancer.from_pretrained("lowface-auto", int8=True)
    assert enhancer.model.networks[1].denoiser.int8_unet is not None
    assert len(ranges) > 10
    assert enhancer.recipe == {**Enhancer.recipe_for("lowface-auto"), "int8": True}
    assert Enhancer.recipe_for("lowface-auto", int8=True) == enhancer.recipe
    noise = np.random.default_rng(0).normal(0, 0.01, (64, 80, 3))
    dark = np.clip((smooth_test_image(64, 80) * 0.12 + noise) * 255, 0, 255).round().astype(np.uint8)
    float_out = Enhancer.from_pretrained("lowface-restore-real", gate=False).enhance(dark)
    int8_out = Enhancer.from_pretrained("lowface-restore-real", gate=False, int8=True).enhance(dark)
    assert int8_out.shape == dark.shape and int8_out.dtype == np.uint8
    assert 0 < np.abs(int8_out.astype(int) - float_out).mean() < 3  # levels of 255 (1.9 here: strong noise)


def test_fingerprint_covers_constructor_arguments():
    card = model_card("lowface-restore-real")
    assert card.kwargs and model_fingerprint("lowface-restore-real") != card.sha256
    assert model_fingerprint("lowface-restore-real") == model_fingerprint("lowface-restore-real")
    assert create_model("lowface-restore-real").enhancer.context_clip == card.kwargs["context_clip"]
