"""Enhance-Net (paper) and the fast variant: shapes, Retinex properties, exact tiling, gradients, cost."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import BFLOAT16, assert_close
from lowface.inference.tiling import tiled_apply
from lowface.models import EnhanceNet, FastEnhanceNet, Retinex


def test_paper_network_parameter_count():
    params = sum(p.numel() for p in EnhanceNet().parameters())
    print(
        f"EnhanceNet parameters: {params:,}; FastEnhanceNet: {sum(p.numel() for p in FastEnhanceNet().parameters()):,}"
    )
    # 6 body convs (3-64-64-64-128/64-128/64-3) + 5 head convs (3-128-128-64-16-3), all 3x3 with bias.
    assert params == 459_590


@pytest.mark.parametrize("model_cls", [EnhanceNet, FastEnhanceNet])
def test_forward_returns_retinex_pair_in_range(model_cls):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 37, 53) * 0.3
    out = model_cls()(x)
    assert isinstance(out, Retinex)
    assert out.reflectance.shape == out.illumination.shape == x.shape
    assert out.reflectance.min() >= 0 and out.reflectance.max() <= 1
    assert out.illumination.min() >= 1e-4 and out.illumination.max() <= 1


def test_paper_network_only_brightens():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    out = EnhanceNet()(x)
    assert torch.all(out.illumination >= x.clamp(1e-4, 1) - 1e-6)
    assert torch.all(out.reflectance >= x - 1e-6)


@pytest.mark.parametrize("model_cls", [EnhanceNet, FastEnhanceNet])
def test_tiled_output_equals_untiled(model_cls):
    torch.manual_seed(0)
    model = model_cls().double().eval()
    for p in model.parameters():  # strong random weights so every layer matters
        p.data.normal_(0, 0.1)
    x = torch.rand(1, 3, 203, 157, dtype=torch.float64)

    def run(z):
        return model(z).reflectance

    with torch.no_grad():
        full = run(x)
        tiled = tiled_apply(run, x, 48, model.receptive_radius, model.size_multiple)
        too_small_halo = tiled_apply(run, x, 48, model.receptive_radius // 2, model.size_multiple)
    assert_close(tiled, full, atol=1e-10, rtol=0)
    assert (full - too_small_halo).abs().max() > 1e-6  # the halo is needed: the receptive field is real


@pytest.mark.parametrize("model_cls", [EnhanceNet, FastEnhanceNet])
def test_gradients_reach_every_parameter(model_cls):
    torch.manual_seed(0)
    model = model_cls()
    out = model(torch.rand(1, 3, 32, 32) * 0.3)
    (out.reflectance.mean() + out.illumination.mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_fast_variant_is_over_30x_cheaper_at_1080p():
    from lowface.bench.speed import count_macs  # through the reference graph, every convolution counted

    full = count_macs(EnhanceNet(), 270, 480) * 16  # conv MACs scale exactly with pixels
    fast = count_macs(FastEnhanceNet(), 1080, 1920)
    print(f"1080p GMACs: full {full / 1e9:.1f}, fast {fast / 1e9:.2f}, ratio {full / fast:.1f}")
    assert full / fast > 30


def test_log_domain_guided_upsampling_keeps_a_tone_curve_exact_next_to_a_lamp():
    """A lamp in a dark textured scene, illumination = the low-resolution image to a power (a global tone curve):
    the log-domain fit reproduces the curve within 1 % right next to the lamp, the linear fit leaves a dark ring."""
    from lowface.models.guided_filter import FastGuidedUpsampler

    yy, xx = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    radius = ((yy - 64) ** 2 + (xx - 64) ** 2).sqrt()
    scene = 0.03 * (1 + 0.3 * torch.sin(xx / 5) * torch.sin(yy / 7))
    x = torch.where(radius < 10, torch.ones_like(scene), scene).expand(1, 3, 128, 128)
    low = torch.nn.functional.avg_pool2d(x, 4)
    ring = ((radius >= 10) & (radius < 14)).expand(1, 3, 128, 128)
    ratios = {}
    for domain, eps in (("log", 1e-2), ("linear", 1e-3)):
        illumination = FastGuidedUpsampler(2, eps, domain)(low, low**0.8, x, 4)
        ratios[domain] = ((x / illumination) / x**0.2)[ring].mean().item()
    assert abs(ratios["log"] - 1) < 0.01 and ratios["linear"] < 0.93
    with pytest.raises(ValueError, match="'linear' or 'log'"):
        FastGuidedUpsampler(domain="sqrt")


@pytest.mark.parametrize("guide", ["log", "linear"])
@pytest.mark.parametrize("scale", [4, 8])
def test_banded_inference_computes_the_training_graph_values(monkeypatch, guide, scale):
    """Under inference_mode the full-resolution half (upsampled guided-filter models, the division, the clamps) runs
    a band of rows at a time (speed, issue 22): the values of the graph training differentiates, at band edges
    and at sizes that are no multiple of the scale or the band."""
    torch.manual_seed(3)
    net = FastEnhanceNet(scale, 16, guide=guide).eval()
    monkeypatch.setattr(FastEnhanceNet, "BAND_PIXELS", 1500)  # 8 or 16 rows a band at this width
    x = torch.rand(1, 3, 77, 101)
    x[..., 30:40, 20:50] = 0.0  # black pixels: the reflectance clamp acts
    reference = net(x.clone().requires_grad_(True))
    with torch.inference_mode():
        banded = net(x)
    assert_close(banded.illumination, reference.illumination.detach(), atol=2e-6, rtol=1e-5)
    assert_close(banded.reflectance, reference.reflectance.detach(), atol=2e-6, rtol=1e-5)
    assert (banded.reflectance == 0).any()


def test_torch_module_apply_reaches_every_submodule():
    """nn.Module.apply (weight initialisation, dtype or hook helpers) must not be shadowed by a part's own method:
    the guided upsampler once named its full-resolution step ``apply`` and broke it for every fast network."""
    seen = []
    FastEnhanceNet().apply(lambda module: seen.append(type(module).__name__))
    assert {"FastGuidedUpsampler", "IlluminationEstimator", "FastEnhanceNet"} <= set(seen)


def test_the_clipped_context_hides_a_lamp_from_the_estimator_and_tiles_exactly():
    """``context_clip``: the estimator sees a lamp no brighter than k times its surroundings' geometric mean, a scene
    without such spots as it is, and the illumination still tiles exactly with the wider receptive radius."""
    torch.manual_seed(3)
    net = FastEnhanceNet(width=8, context_clip=2.0).double().eval()
    for parameter in net.estimator.parameters():
        nn.init.normal_(parameter, 0.0, 0.2)  # an estimator whose output depends on what it sees
    plain_net = FastEnhanceNet(width=8).double().eval()
    plain_net.load_state_dict(net.state_dict())
    sky = torch.full((1, 3, 96, 128), 0.03, dtype=torch.float64)
    lamp = sky.clone()
    lamp[..., 8:16, 15:17] = 1.0  # a thin pole in low-resolution pixels
    seen = net.context(lamp)
    assert seen.max() < 2.0 * 0.06 and torch.equal(net.context(sky), sky)
    assert torch.equal(plain_net.context(lamp), lamp)
    x = torch.rand(1, 3, 320, 352, dtype=torch.float64) * 0.2
    x[..., 100:140, 150:160] = 0.95
    with torch.no_grad():
        full = net(x).illumination
        tiled = tiled_apply(lambda t: net(t).illumination, x, 96, net.receptive_radius, net.size_multiple)
        clipped_away = (full - plain_net(x).illumination).abs().max()
    assert net.receptive_radius == (11 + 36 + 2 * 2 + 1) * 4
    assert_close(tiled, full, atol=1e-10, rtol=0)
    assert clipped_away > 1e-4  # the clip changed what the estimator saw


def test_the_surround_estimate_hides_a_wide_lamp_from_the_dark_round_it_and_tiles_exactly():
    """``surround_clip``: a lamp wider than the context's Gaussian raises its own geometric mean, so the context clip
    leaves it bright; the surround context clips it to about k times the soft minimum of the dark round it. The dark
    takes the estimate on that context, the lamp its own; a scene without lights is estimated as without the option,
    the illumination still tiles exactly (the same reach as the context clip), and plain inference, which estimates
    the dark only where the two contexts differ, computes what training does."""
    torch.manual_seed(3)
    net = FastEnhanceNet(width=8, context_clip=1.75, surround_clip=1.5).double().eval()
    for parameter in net.estimator.parameters():
        nn.init.normal_(parameter, 0.0, 0.2)  # an estimator whose output depends on what it sees
    plain_net = FastEnhanceNet(width=8, context_clip=1.75).double().eval()
    plain_net.load_state_dict(net.state_dict())
    sky = torch.full((1, 3, 96, 128), 0.02, dtype=torch.float64)
    lamp = sky.clone()
    lamp[..., 30:70, 40:80] = 0.8  # 40 low-resolution pixels wide: over three of the Gaussian's sigmas
    surround, lit_share = net.surround(lamp, net.context(lamp))
    assert net.context(lamp)[..., 50, 60].min() > 0.7  # the context clip: the lamp's middle as bright as it is
    assert surround.max() < 1.5 * 0.04 and torch.equal(surround[..., :, :36], lamp[..., :, :36])
    assert lit_share[0, 0, 50, 60] == 1 and lit_share[0, 0, 50, 38] == 0 and lit_share[0, 0, 5, 5] == 0
    assert torch.equal(net.surround(sky, net.context(sky))[0], sky)

    dim = torch.rand(1, 3, 320, 352, dtype=torch.float64) * 0.05  # no light: the same estimate
    lit = dim.clone()
    lit[..., 100:260, 120:280] = 0.9  # a lamp 40 low-resolution pixels wide
    with torch.no_grad():
        assert_close(net(dim).illumination, plain_net(dim).illumination, atol=1e-12, rtol=0)
        full = net(lit).illumination
        changed = (full - plain_net(lit).illumination).abs()
        tiled = tiled_apply(lambda t: net(t).illumination, lit, 96, net.receptive_radius, net.size_multiple)
    reference = net(lit).illumination.detach()  # with gradients: both estimates on the whole image, as in training
    assert_close(full, reference, atol=1e-10, rtol=0)  # plain inference: the second only where the contexts differ
    assert changed[..., 60:96, :].max() > 1e-3 and changed[..., 150:210, 170:230].max() < 1e-12  # round it, not in it
    assert net.receptive_radius == plain_net.receptive_radius
    assert_close(tiled, full, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match=r"surround_clip .* needs context_clip, got None"):
        FastEnhanceNet(surround_clip=1.5)


def test_the_illumination_power_takes_back_gain_only_below_the_pivot():
    """``illumination_power`` p, ``illumination_pivot`` c: I -> max(I, c^(1-p) I^p) on the estimated illumination.
    The log-domain upsampler is linear in log I, so at full resolution that is I^p exactly (c = 1), and with c < 1 a
    scene lit above c keeps its illumination while a dark one gets less gain; the output is never brighter."""
    torch.manual_seed(4)
    net = FastEnhanceNet(width=8).double().eval()
    dark = torch.rand(1, 3, 64, 96, dtype=torch.float64) * 0.1
    lit = dark * 3 + 0.6
    with torch.no_grad():
        plain = [net(x) for x in (dark, lit)]
        net.illumination_power = 0.5
        halved = net(dark)
        net.illumination_pivot = 0.8
        pivoted = [net(x) for x in (dark, lit)]
    assert plain[0].illumination.max() < 0.8 < plain[1].illumination.min()
    assert_close(halved.illumination, plain[0].illumination.sqrt(), atol=1e-9, rtol=0)
    assert_close(pivoted[0].illumination, (0.8 * plain[0].illumination).sqrt(), atol=1e-9, rtol=0)
    assert torch.equal(pivoted[1].illumination, plain[1].illumination)
    assert (pivoted[0].reflectance <= plain[0].reflectance).all() and (halved.reflectance < plain[0].reflectance).any()


def test_the_illumination_chroma_keeps_a_share_of_its_colour_in_both_paths(monkeypatch):
    """``illumination_chroma`` b: the low-resolution illumination handed to the upsampler is g + b (I - g), g its
    channel mean - grey at b = 0, the network's own at b = 1 (the default) - in the training graph and in the banded
    inference path alike, with a gradient through it."""
    torch.manual_seed(6)
    net = FastEnhanceNet(width=8, illumination_power=0.7, illumination_pivot=0.5).eval()
    for parameter in net.estimator.parameters():
        nn.init.normal_(parameter, 0.0, 0.2)  # per-channel illuminations that differ
    monkeypatch.setattr(FastEnhanceNet, "BAND_PIXELS", 1500)
    handed = []
    spy = lambda method: lambda low, light, *rest: handed.append(light.detach()) or method(low, light, *rest)  # noqa: E731
    monkeypatch.setattr(net.upsampler, "forward", spy(net.upsampler.forward))
    monkeypatch.setattr(net.upsampler, "coefficients", spy(net.upsampler.coefficients))
    x = torch.rand(1, 3, 61, 83) * torch.tensor([0.3, 0.2, 0.1]).view(1, 3, 1, 1)  # a warm cast
    outputs = {}
    for share in (1.0, 0.5, 0.0):
        net.illumination_chroma = share
        net.zero_grad(set_to_none=True)
        trained = net(x.clone().requires_grad_(True))
        trained.reflectance.mean().backward()
        assert all(parameter.grad.abs().sum() > 0 for parameter in net.estimator.parameters())  # learns at this b
        with torch.inference_mode():
            banded = net(x)
        assert_close(banded.reflectance, trained.reflectance.detach(), atol=1e-4, rtol=0)  # channels_last rounding
        outputs[share] = handed[-2]
        assert_close(handed[-1], handed[-2], atol=1e-5, rtol=0)  # the same illumination in both paths
    colour = {share: light - light.mean(1, keepdim=True) for share, light in outputs.items()}
    assert colour[1.0].abs().max() > 0.01
    assert_close(colour[0.5], 0.5 * colour[1.0], atol=1e-6, rtol=0)
    assert colour[0.0].abs().max() < 1e-6
    assert_close(outputs[0.0].mean(1), outputs[1.0].mean(1), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="illumination_chroma"):
        FastEnhanceNet(illumination_chroma=1.5)


@pytest.mark.parametrize("dtype", [torch.float32, BFLOAT16])
def test_the_estimator_with_fused_kernels_computes_the_modules_values(dtype):
    from lowface.models.enhance_net import IlluminationEstimator
    from lowface.models.fused import FUSED_CONVOLUTION

    if FUSED_CONVOLUTION is None:
        pytest.skip("this PyTorch has no oneDNN fused convolution; the plain modules run instead")
    torch.manual_seed(5)
    estimator = IlluminationEstimator(8, (16, 16, 8, 4)).eval()
    for module in estimator.modules():  # the init's N(0, 0.02) leaves every map near zero: nothing to compare
        if isinstance(module, nn.Conv2d):
            nn.init.normal_(module.weight, 0.0, 0.18)
    x = torch.rand(1, 3, 30, 44).to(dtype, memory_format=torch.channels_last)
    with torch.no_grad():
        fused = estimator(x)
    with torch.enable_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        plain = estimator(x).detach()  # the modules' graph: with a gradient, nothing is fused
    assert fused.dtype == dtype and fused.shape == plain.shape
    assert plain.float().std() > 0.1 and plain.float().max() < 0.99  # the sigmoid head: not flat, not saturated
    assert_close(fused.float(), plain.float(), atol=1e-5 if dtype == torch.float32 else 0.02, rtol=0)
