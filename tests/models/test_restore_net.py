"""The denoising Retinex enhancer: starts as the fast enhancer, tiles exactly, passes gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import BFLOAT16, assert_close
from lowface.filters import luma
from lowface.inference.routing import NoiseRouter, RoutedModel
from lowface.inference.tiling import tiled_apply
from lowface.models import FastEnhanceNet, RestoreNet, Retinex
from lowface.models.restore_net import (
    GAIN_NORMALISER,
    ReflectanceDenoiser,
    depth_to_space,
    set_denoise_strength,
    space_to_depth,
)


def test_untrained_denoiser_leaves_the_fast_enhancer_output_unchanged():
    torch.manual_seed(0)
    net = RestoreNet().eval()
    fast = FastEnhanceNet().eval()
    fast.load_state_dict(net.enhancer.state_dict())
    x = torch.rand(1, 3, 37, 53) * 0.3
    with torch.no_grad():
        out, reference = net(x), fast(x)
    assert isinstance(out, Retinex) and out.reflectance.shape == x.shape
    assert torch.equal(out.reflectance, reference.reflectance)


@pytest.mark.parametrize(
    ("height", "width", "factor", "multiple"),
    [(16, 16, 4, 16), (37, 53, 4, 16), (1080, 40, 4, 16), (35, 16, 2, 8), (32, 48, 2, 8), (35, 53, 2, 8)],
)
def test_space_to_depth_is_pixel_unshuffle_of_the_padded_concatenation(height, width, factor, multiple):
    torch.manual_seed(5)
    parts = [torch.rand(2, 3, height, width, requires_grad=True), torch.rand(2, 1, height, width, requires_grad=True)]
    padding = (0, (-width) % multiple, 0, (-height) % multiple)
    expected = F.pixel_unshuffle(F.pad(torch.cat(parts, 1), padding, mode="replicate"), factor)
    folded = space_to_depth(parts, factor, multiple)
    assert torch.equal(folded, expected)
    weights = torch.randn_like(expected)
    for got, want in zip(torch.autograd.grad((folded * weights).sum(), parts),
                         torch.autograd.grad((expected * weights).sum(), parts), strict=True):  # fmt: skip
        assert_close(got, want, atol=1e-5, rtol=0)  # the padded rows' gradients summed in another order
    assert torch.equal(depth_to_space(expected, factor, height, width), torch.cat(parts, 1))
    channels_last = expected.contiguous(memory_format=torch.channels_last)  # a convolution's output on CPU
    assert torch.equal(depth_to_space(channels_last, factor, height, width), torch.cat(parts, 1))
    # the denoiser's CPU path: folded straight into bfloat16 channels-last, unfolded from it back to float32
    reduced = space_to_depth(parts, factor, multiple, torch.bfloat16, channels_last=True)
    assert reduced.dtype == torch.bfloat16 and reduced.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(reduced, expected.to(torch.bfloat16))
    back = depth_to_space(reduced, factor, height, width, torch.float32)
    assert back.dtype == torch.float32 and torch.equal(back, torch.cat(parts, 1).to(torch.bfloat16).float())
    # the int8 runtime's: uint8 levels into channels-last (two column phases copied as one 16-bit pair where the rows
    # allow it: even widths; bytes one by one where not)
    levels = [(part.detach() * 255).round().to(torch.uint8) for part in parts]
    folded8 = space_to_depth(levels, factor, multiple, channels_last=True)
    want8 = F.pixel_unshuffle(F.pad(torch.cat(levels, 1).float(), padding, mode="replicate"), factor).to(torch.uint8)
    assert folded8.is_contiguous(memory_format=torch.channels_last) and torch.equal(folded8, want8)
    assert torch.equal(space_to_depth([level[..., 1:] for level in levels], factor, multiple, channels_last=True),
                       space_to_depth([level[..., 1:].contiguous() for level in levels], factor, multiple,
                                      channels_last=True))  # odd storage offsets: bytes  # fmt: skip


@pytest.mark.parametrize("mirror", [False, True])
def test_tiled_output_equals_untiled_and_a_short_halo_does_not(mirror):
    torch.manual_seed(1)
    net = RestoreNet(denoiser_mirror=mirror).double().eval()
    for p in net.denoiser.out.parameters():
        torch.nn.init.normal_(p, 0.0, 0.05)  # a denoiser that does something
    x = torch.rand(1, 3, 150, 170, dtype=torch.float64) * 0.3

    def run(t):
        return net(t).reflectance

    with torch.no_grad():
        full = run(x)
        tiled = tiled_apply(run, x, 64, net.receptive_radius, net.size_multiple)
        short = tiled_apply(run, x, 64, 16, net.size_multiple)
    assert_close(tiled, full, atol=1e-10, rtol=0)
    assert (full - short).abs().max() > 1e-6


def test_gradients_reach_both_parts_and_the_pixels():
    torch.manual_seed(2)
    net = RestoreNet()
    x = (torch.rand(2, 3, 32, 32) * 0.2).requires_grad_(True)
    out = net(x)
    (out.reflectance.mean() + out.illumination.mean()).backward()
    assert x.grad.abs().sum() > 0
    assert net.denoiser.out.weight.grad.abs().sum() > 0
    assert net.enhancer.estimator.conv1.weight.grad.abs().sum() > 0


def test_restore_net_starts_from_fast_enhancer_weights(tmp_path):
    import safetensors.torch

    from lowface.models import EnhanceNet
    from lowface.train.trainer import load_initial_weights

    fast = FastEnhanceNet()
    safetensors.torch.save_file(fast.state_dict(), str(tmp_path / "fast.safetensors"))
    net = RestoreNet()
    load_initial_weights(net, str(tmp_path / "fast.safetensors"))
    assert all(torch.equal(v, net.enhancer.state_dict()[k]) for k, v in fast.state_dict().items())
    safetensors.torch.save_file(EnhanceNet().state_dict(), str(tmp_path / "full.safetensors"))
    with pytest.raises(ValueError, match="match neither RestoreNet"):
        load_initial_weights(net, str(tmp_path / "full.safetensors"))


def test_initial_weights_come_from_several_files_and_named_parts(tmp_path):
    """``init_from`` as a list: a fast enhancer's file fills the enhancer, ``PATH#denoiser,tone`` takes only those
    parts of another RestoreNet whose enhancer differs in width; a part missing or of another shape is refused."""
    import safetensors.torch

    from lowface.train.checkpoints import initial_weight_files, load_initial_weights

    torch.manual_seed(4)
    fast, wide = FastEnhanceNet(scale=8, width=16), RestoreNet(tone_width=8)
    safetensors.torch.save_file(fast.state_dict(), str(tmp_path / "fast.safetensors"))
    safetensors.torch.save_file(wide.state_dict(), str(tmp_path / "wide.safetensors"))
    net = RestoreNet(scale=8, width=16, tone_width=8)
    entries = [str(tmp_path / "fast.safetensors"), str(tmp_path / "wide.safetensors") + "#denoiser, tone"]
    load_initial_weights(net, entries)
    assert all(torch.equal(v, net.enhancer.state_dict()[k]) for k, v in fast.state_dict().items())
    own = net.state_dict()
    assert all(torch.equal(v, own[k]) for k, v in wide.state_dict().items() if not k.startswith("enhancer."))
    assert initial_weight_files(entries) == [str(tmp_path / "fast.safetensors"), str(tmp_path / "wide.safetensors")]
    with pytest.raises(ValueError, match="its 'enhancer' does not fit"):
        load_initial_weights(net, str(tmp_path / "wide.safetensors") + "#enhancer")
    with pytest.raises(ValueError, match="no tensors of a part 'relight'"):
        load_initial_weights(net, str(tmp_path / "wide.safetensors") + "#relight")


def test_the_denoiser_cannot_change_brightness_beyond_a_few_pixels():
    """The residual is high-passed: even a denoiser that predicts a large constant offset leaves the local mean of
    the fast enhancer's output as it was (v3 brightened through its denoiser and drew dark blocks around lamps)."""
    torch.manual_seed(4)
    net = RestoreNet().double().eval()
    torch.nn.init.zeros_(net.denoiser.out.weight)
    torch.nn.init.constant_(net.denoiser.out.bias, -0.3)  # "noise" of -0.3 everywhere: brighten by 0.3
    x = torch.rand(1, 3, 96, 96, dtype=torch.float64) * 0.2
    with torch.no_grad():
        out, base = net(x).reflectance, net.enhancer(x).reflectance
    assert_close(out, base, atol=1e-6, rtol=0)  # the blur kernel is float32: it sums to 1 within 1e-8
    unconstrained = RestoreNet(detail_sigma=None).double().eval()
    unconstrained.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert (unconstrained(x).reflectance - base).mean() > 0.1


def test_the_fast_student_layout_tiles_exactly_and_costs_a_third_of_the_denoiser():
    torch.manual_seed(2)
    student = RestoreNet(scale=8, width=16, unshuffle=4, detail_sigma=8.0).eval()
    for p in student.denoiser.out.parameters():
        torch.nn.init.normal_(p, 0.0, 0.05)
    assert student.size_multiple == 16
    x = torch.rand(1, 3, 200, 260) * 0.3

    def run(t):
        return student(t).reflectance

    with torch.no_grad():  # float32 without gradients: the OpenCV blur and resize run
        full = run(x)
        tiled = tiled_apply(run, x, 96, student.receptive_radius, student.size_multiple)
    assert_close(tiled, full, atol=2e-5, rtol=0)

    def conv_macs(module, size=256):
        total = 0

        def hook(conv, _inputs, output):
            nonlocal total
            total += output.numel() * conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1] // conv.groups

        handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
        with torch.enable_grad():  # the reference graph: plain inference fuses convolutions past the modules' hooks
            module(torch.rand(1, 3, size, size), torch.rand(1, 1, size, size))
        for handle in handles:
            handle.remove()
        return total

    ratio = conv_macs(student.denoiser) / conv_macs(RestoreNet().denoiser)
    assert 0.3 < ratio < 0.4


def test_the_tone_head_starts_as_identity_corrects_pixel_by_pixel_and_tiles_exactly(tmp_path):
    """A model grown a tone head from tone-less weights computes what they computed; a trained head maps each pixel
    from its own value and gain only (permuting pixels permutes its output: no spatial support, so no halo)."""
    import safetensors.torch

    from lowface.train.trainer import load_initial_weights

    torch.manual_seed(6)
    plain = RestoreNet(detail_sigma=8.0).double().eval()
    for p in plain.denoiser.out.parameters():
        torch.nn.init.normal_(p, 0.0, 0.05)
    safetensors.torch.save_file({k: v.float() for k, v in plain.state_dict().items()}, str(tmp_path / "w.safetensors"))
    toned = RestoreNet(detail_sigma=8.0, tone_width=8).eval()
    load_initial_weights(toned, str(tmp_path / "w.safetensors"))
    toned.double()
    x = torch.rand(1, 3, 150, 170, dtype=torch.float64) * 0.3
    with torch.no_grad():
        assert_close(toned(x).reflectance, plain.float().double()(x).reflectance, atol=1e-6, rtol=0)
        torch.nn.init.normal_(toned.tone.layers[-1].weight, 0.0, 0.1)
        reflectance, gain = torch.rand(1, 3, 20, 30, dtype=torch.float64), torch.rand(1, 1, 20, 30, dtype=torch.float64)
        order = torch.randperm(600)

        def shuffle(t):
            return t.flatten(2)[..., order].view_as(t)

        assert torch.equal(toned.tone(shuffle(reflectance), shuffle(gain)), shuffle(toned.tone(reflectance, gain)))
        full = toned(x).reflectance
        tiled = tiled_apply(lambda t: toned(t).reflectance, x, 64, toned.receptive_radius, toned.size_multiple)
    assert_close(tiled, full, atol=1e-10, rtol=0)
    assert (full - plain(x).reflectance).abs().max() > 1e-3


@pytest.mark.parametrize(("denoiser_width", "mirror"), [(24, False), ([8, 20, 40], False), (24, True)])
def test_plain_inference_shortcuts_compute_the_training_graph_values(monkeypatch, denoiser_width, mirror):
    """Under inference_mode the tail (high-pass, tone head, clamp) runs band by band and the denoiser
    channels-last (speed, issue 22); the values are those of the graph that training differentiates, to float32
    rounding, bands and borders included - also with a width of its own at each of the denoiser's levels, and with
    mirrored borders (zero-padded convolutions with their edges recomputed)."""
    torch.manual_seed(8)
    net = RestoreNet(scale=8, width=16, denoiser_width=denoiser_width, unshuffle=4, detail_sigma=8.0, tone_width=16,
                     denoiser_mirror=mirror)  # fmt: skip
    net.eval()
    for p in [*net.denoiser.out.parameters(), *net.tone.layers[-1].parameters()]:
        torch.nn.init.normal_(p, 0.0, 0.1)
    monkeypatch.setattr(RestoreNet, "BAND_PIXELS", 1000)  # 6 rows a band: 11 bands and a short last one
    x = torch.rand(2, 3, 67, 150)  # dark and bright pixels: the clamp acts at both ends; two images, two tone passes
    training_graph = net(x.clone().requires_grad_(True)).reflectance.detach()  # grad mode: the reference ops
    with torch.inference_mode():
        fast = net(x).reflectance
    assert_close(fast, training_graph, atol=1e-5, rtol=0)
    assert (fast == 0).any() and (fast == 1).any()
    assert (training_graph - net.enhancer(x).reflectance.detach()).abs().max() > 1e-2  # both heads act


@pytest.mark.parametrize("guide_eps", [None, 0.003])
def test_the_pooled_high_pass_keeps_brightness_and_tiles_exactly(guide_eps):
    """``detail_pooled`` takes the local mean on 4x4 block means (plain, or guided with ``detail_guide_eps``): a
    constant offset from the denoiser is still removed entirely, and tiling with the model's halo is still exact
    (and with a short halo it is not)."""
    torch.manual_seed(9)
    net = RestoreNet(scale=8, width=16, denoiser_width=24, unshuffle=4, detail_sigma=8.0, detail_pooled=True,
                     detail_guide_eps=guide_eps)  # fmt: skip
    net = net.double().eval()
    torch.nn.init.zeros_(net.denoiser.out.weight)
    torch.nn.init.constant_(net.denoiser.out.bias, -0.3)
    x = torch.rand(1, 3, 150, 170, dtype=torch.float64) * 0.2
    with torch.no_grad():
        assert_close(net(x).reflectance, net.enhancer(x).reflectance, atol=1e-6, rtol=0)
        torch.nn.init.normal_(net.denoiser.out.weight, 0.0, 0.05)
        full = net(x).reflectance
        tiled = tiled_apply(lambda t: net(t).reflectance, x, 64, net.receptive_radius, net.size_multiple)
        short = tiled_apply(lambda t: net(t).reflectance, x, 64, 8, net.size_multiple)
    assert_close(tiled, full, atol=1e-10, rtol=0)
    assert (full - short).abs().max() > 1e-6
    assert (full - net.enhancer(x).reflectance).abs().max() > 1e-3


def test_the_noise_aware_tone_head_loads_old_heads_unchanged_and_lifts_noisy_regions_only(tmp_path, monkeypatch):
    """``tone_noise`` grows the head a third input (the local level of the removed noise): weights of a head without
    it load and compute what they computed; the level is higher where the input is noisy, and reaches only
    ``NOISE_LEVEL_RADIUS`` pixels (a noisy patch does not change the level far away); tiling and the banded plain
    inference give the graph's values."""
    import safetensors.torch

    from lowface.train.trainer import load_initial_weights

    torch.manual_seed(10)
    old = RestoreNet(detail_sigma=8.0, tone_width=8).double().eval()
    for p in [*old.denoiser.out.parameters(), *old.tone.layers[-1].parameters()]:
        torch.nn.init.normal_(p, 0.0, 0.05)
    safetensors.torch.save_file({k: v.float() for k, v in old.state_dict().items()}, str(tmp_path / "w.safetensors"))
    new = RestoreNet(detail_sigma=8.0, tone_width=8, tone_noise=True).eval()
    load_initial_weights(new, str(tmp_path / "w.safetensors"))
    new.double()
    x = torch.full((1, 3, 160, 240), 0.1, dtype=torch.float64)
    x[..., :, :80] += 0.05 * torch.randn_like(x[..., :, :80])  # the left third noisy, the rest flat
    x.clamp_(0.0, 1.0)
    with torch.no_grad():
        assert_close(new(x).reflectance, old.float().double()(x).reflectance, atol=1e-6, rtol=0)
        removed = 0.05 * torch.randn(1, 3, 160, 240, dtype=torch.float64)
        removed[..., :, 120:] = 0.0
        level = new.noise_level(removed)[0, 0]
        assert level[:, :60].min() > 0.8 and level[:, 120 + new.NOISE_LEVEL_RADIUS :].max() < -1.0
        torch.nn.init.normal_(new.tone.noise_in.weight, 0.0, 0.5)
        full = new(x).reflectance
        tiled = tiled_apply(lambda t: new(t).reflectance, x, 64, new.receptive_radius, new.size_multiple)
    assert_close(tiled, full, atol=1e-10, rtol=0)
    assert (full - old(x).reflectance)[..., :, :40].abs().mean() > 1e-3  # the new input acts
    monkeypatch.setattr(RestoreNet, "BAND_PIXELS", 1000)
    net = new.float()
    graph = net(x.float().requires_grad_(True)).reflectance.detach()
    with torch.inference_mode():
        assert_close(net(x.float()).reflectance, graph, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="tone_noise needs a tone head"):
        RestoreNet(tone_noise=True)


def test_the_tone_lift_cap_keeps_black_black_and_bands_compute_the_graph(monkeypatch):
    """``tone_lift_cap`` k: the tone head may raise a pixel by at most k times its value and lower it freely; a head
    whose bias lifts every pixel (as SICE's crushed shadows taught the shipped one) then leaves black regions black,
    and the band-by-band inference path computes the training graph's values."""
    torch.manual_seed(9)
    kwargs = dict(scale=8, width=16, denoiser_width=24, unshuffle=4, detail_sigma=8.0, tone_width=16)
    free, capped = RestoreNet(**kwargs).eval(), RestoreNet(**kwargs, tone_lift_cap=1.0).eval()
    torch.nn.init.normal_(free.tone.layers[-1].weight, 0.0, 0.05)
    torch.nn.init.constant_(free.tone.layers[-1].bias, 0.1)  # a lift of about 0.1 everywhere
    capped.load_state_dict(free.state_dict())
    x = torch.rand(1, 3, 64, 96) * 0.2
    x[..., :16, :] = 0.0  # a black band (a night sky)
    with torch.inference_mode():
        assert free(x).reflectance[..., :16, :].mean() > 0.05  # the unbounded head paints it
        out = capped(x).reflectance
        assert out[..., :8, :].max() < 1e-3  # capped: black stays black (away from the band's edge)
        correction = capped.tone(x, torch.zeros(1, 1, 64, 96))
        assert (correction <= x + 1e-7).all()
    monkeypatch.setattr(RestoreNet, "BAND_PIXELS", 1000)
    training_graph = capped(x.clone().requires_grad_(True)).reflectance.detach()
    with torch.inference_mode():
        assert_close(capped(x).reflectance, training_graph, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="lift_cap must be >= 0"):
        RestoreNet(**kwargs, tone_lift_cap=-1.0)
    with pytest.raises(ValueError, match="bounds nothing without a lift_cap"):
        RestoreNet(**kwargs, tone_lift_margin=0.04)


def test_the_margin_context_keeps_a_dark_sky_black_and_lifts_a_shadow_inside_a_lit_region(monkeypatch):
    """``tone_margin_context`` c: the lift margin a pixel gets scales with its surroundings' luma over c - a black
    band whose surroundings are black stays black (a night sky), a black patch inside a bright region keeps the
    whole margin (a crushed shadow in a lit face); the weights load unchanged, the band-by-band inference path
    computes the training graph's values and tiling with the model's halo is exact."""
    torch.manual_seed(12)
    kwargs = dict(scale=8, width=16, denoiser_width=24, unshuffle=4, detail_sigma=8.0, tone_width=16,
                  tone_lift_cap=1.0, tone_lift_margin=0.04)  # fmt: skip
    margin, context = RestoreNet(**kwargs).eval(), RestoreNet(**kwargs, tone_margin_context=0.1).eval()
    torch.nn.init.zeros_(margin.tone.layers[-1].weight)
    torch.nn.init.constant_(margin.tone.layers[-1].bias, 0.1)  # a lift of 0.1 everywhere, capped at R + 0.04
    context.load_state_dict(margin.state_dict())
    x = torch.full((1, 3, 128, 128), 0.3)
    x[..., :48, :] = 0.0  # a black sky, far from anything lit at its top
    x[..., 88:96, 60:68] = 0.0  # a black shadow inside the lit region
    with torch.inference_mode():
        plain, scaled = margin(x).reflectance, context(x).reflectance
    assert float(plain[..., :8, :].mean()) == pytest.approx(0.04, abs=1e-3)  # the margin paints the sky grey
    assert scaled[..., :8, :].max() < 2e-3  # with its context: black
    assert float(scaled[..., 90:94, 62:66].mean()) == pytest.approx(float(plain[..., 90:94, 62:66].mean()), abs=2e-3)
    assert scaled[..., 90:94, 62:66].mean() > 0.03
    share = context.margin_share(context.enhancer(x).reflectance)
    assert share.shape == (1, 1, 128, 128) and share.min() >= 0.0 and share.max() <= 1.0
    monkeypatch.setattr(RestoreNet, "BAND_PIXELS", 1000)
    y = torch.rand(1, 3, 100, 140) * 0.3
    y[..., :30, :] *= 0.02
    training_graph = context(y.clone().requires_grad_(True)).reflectance.detach()
    with torch.inference_mode():
        assert_close(context(y).reflectance, training_graph, atol=1e-5, rtol=0)
        tiled = tiled_apply(lambda t: context(t).reflectance, y, 64, context.receptive_radius, context.size_multiple)
        assert_close(tiled, context(y).reflectance, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="needs tone_width and tone_lift_margin"):
        RestoreNet(**{**kwargs, "tone_lift_margin": 0.0}, tone_margin_context=0.1)


def test_tone_chroma_scales_the_heads_own_colour_and_keeps_its_luma_in_both_paths(monkeypatch):
    """``tone_chroma`` s: the head's correction keeps its luma and s times its colour part (0: the same offset on R, G
    and B; the shipped head adds one warm tint to every image); the weights load unchanged and the band-by-band
    inference path computes the training graph's values."""
    torch.manual_seed(11)
    kwargs = dict(scale=8, width=16, denoiser_width=24, unshuffle=4, detail_sigma=8.0, tone_width=16)
    trained = RestoreNet(**kwargs).eval()
    torch.nn.init.normal_(trained.tone.layers[-1].weight, 0.0, 0.02)
    trained.tone.layers[-1].bias.data = torch.tensor([0.05, 0.0, -0.05])  # a warm tint, as learned from faces
    grey, half = RestoreNet(**kwargs, tone_chroma=0.0).eval(), RestoreNet(**kwargs, tone_chroma=0.5).eval()
    grey.load_state_dict(trained.state_dict())
    half.load_state_dict(trained.state_dict())
    x, gain = torch.rand(2, 3, 32, 48) * 0.3, torch.rand(2, 1, 32, 48)
    with torch.no_grad():
        full, neutral, halfway = trained.tone(x, gain), grey.tone(x, gain), half.tone(x, gain)
    assert (full[:, 0] - full[:, 2]).mean() > 0.05  # the trained head's tint
    assert_close(neutral, neutral[:, :1].expand_as(neutral))  # no colour of its own
    assert_close(luma(neutral), luma(full), atol=1e-6, rtol=0)  # the same lift and tone
    assert_close(halfway, (full + neutral) / 2, atol=1e-6, rtol=0)
    monkeypatch.setattr(RestoreNet, "BAND_PIXELS", 1000)
    image = torch.rand(1, 3, 64, 96) * 0.2
    training_graph = grey(image.clone().requires_grad_(True)).reflectance.detach()
    with torch.inference_mode():
        assert_close(grey(image).reflectance, training_graph, atol=1e-5, rtol=0)


def test_the_guided_high_pass_keeps_a_bright_objects_residual_off_its_dark_surroundings():
    """``detail_guide_eps``: a denoiser that darkens a bright square by 0.5 (as it darkens a floodlit monument's
    clipped highlight) no longer brightens the dark ground round it - the plain Gaussian local mean spread the
    square's residual 10-30 px out and its subtraction drew a glow there (tiling: the pooled high-pass test)."""
    base = torch.full((1, 3, 128, 128), 0.1, dtype=torch.float64)
    base[..., 48:80, 56:72] = 1.0
    residual = torch.where(base > 0.5, 0.5, 0.0)
    ring = torch.zeros(128, 128, dtype=torch.bool)
    ring[40:88, 48:80] = True
    ring[46:82, 54:74] = False  # 2-8 px outside the square
    plain = RestoreNet(detail_sigma=8.0).double()
    guided = RestoreNet(detail_sigma=8.0, detail_guide_eps=0.003).double()
    with torch.no_grad():
        plain_glow = (plain._local_mean(residual, base) - residual)[..., ring].mean()
        guided_glow = (guided._local_mean(residual, base) - residual)[..., ring].mean()
        inside = (guided._local_mean(residual, base) - residual)[..., 52:76, 60:68].abs().max()
    assert plain_glow > 0.05  # what the output gains round the square (0.08)
    assert guided_glow.abs() < 0.02
    assert inside < 0.02  # the square keeps its own mean: nothing leaks out or in
    with pytest.raises(ValueError, match="needs detail_sigma"):
        RestoreNet(detail_sigma=None, detail_guide_eps=0.01)


@pytest.mark.parametrize("dtype", [torch.float32, BFLOAT16])
def test_fused_convolution_blocks_compute_the_modules_values(dtype):
    from lowface.models.fused import FUSED_CONVOLUTION
    from lowface.models.restore_net import _fused_blocks, _plain_blocks

    if FUSED_CONVOLUTION is None:
        pytest.skip("this PyTorch has no oneDNN fused convolution; the plain blocks run instead")
    torch.manual_seed(4)
    denoiser = RestoreNet().denoiser.eval()
    x = torch.randn(1, 16, 24, 40, dtype=dtype).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        for blocks in (denoiser.encode1, denoiser.encode2):  # stride 1, then stride 2
            fused = _fused_blocks(blocks, x)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
                plain = _plain_blocks(blocks, x)
            assert fused.dtype == dtype and fused.shape == plain.shape
            assert_close(fused.float(), plain.float(), atol=1e-5 if dtype == torch.float32 else 0.03, rtol=0)
            x = plain


@pytest.mark.parametrize("dtype", [torch.float32, BFLOAT16])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [(1, 1), (3, 5), (24, 40), (25, 41)])
def test_mirrored_convolutions_run_fused_with_the_modules_values(dtype, stride, size):
    """A MirrorConv2d (issue 20: zero padding is a black frame the denoiser brightened against) runs as a
    zero-padded fused kernel plus its border rows and columns recomputed from mirrored strips: the module's values
    in both precisions, strided, odd-sized and one-pixel maps included; and not the zero-padded values."""
    from lowface.models.fused import FUSED_CONVOLUTION, MirrorConv2d, fused_convolution

    if FUSED_CONVOLUTION is None:
        pytest.skip("this PyTorch has no oneDNN fused convolution; the plain blocks run instead")
    torch.manual_seed(6)
    conv, activation = MirrorConv2d(16, 24, 3, stride=stride, padding=1), nn.LeakyReLU(0.1)
    x = torch.randn(2, 16, *size).to(dtype).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        fused = fused_convolution(conv, x, activation)
        reference = activation(conv(x.float()))  # float32 module, mirrored by F.pad
        zero_padded = activation(F.conv2d(x.float(), conv.weight, conv.bias, stride, padding=1))
    assert fused.dtype == dtype and fused.shape == reference.shape
    assert_close(fused.float(), reference, atol=1e-5 if dtype == torch.float32 else 0.03, rtol=0)
    assert (reference - zero_padded).abs().max() > 0.1


def test_a_mirrored_denoiser_sees_no_frame_round_a_flat_image():
    """On a flat image every mirrored convolution's input stays flat to the border, so the noise estimate is one
    value everywhere (one a sampling phase of the 2x2 fold); with zero padding the border pixels differ (the dark
    frame the shipped U-Net brightened)."""
    torch.manual_seed(7)
    flat, gain = torch.full((1, 3, 40, 48), 0.3), torch.full((1, 1, 40, 48), 0.5)
    for mirror in (True, False):
        denoiser = ReflectanceDenoiser(8, 2, mirror_edges=mirror)
        torch.nn.init.normal_(denoiser.out.weight, 0.0, 0.1)
        for fast in (True, False):
            with torch.inference_mode(fast):
                noise = denoiser(flat, gain)
            phases = noise.unfold(-2, 2, 2).unfold(-2, 2, 2)  # (1, 3, 20, 24, 2, 2): the fold's four sampling phases
            spread = (phases - phases[:, :, 10:11, 12:13]).abs().max()
            assert spread < 1e-5 if mirror else spread > 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, BFLOAT16])
@pytest.mark.parametrize("size", [(2, 2), (5, 7), (9, 16)])
def test_the_fused_upsampled_join_computes_the_decoder_steps_values(dtype, size):
    """The U-Net decoder step without its upsampled map and concatenation (speed, issue 22): the reference's values
    to float rounding, its zero-padded border rows and columns included, in both precisions; a skip that is not twice
    the size takes the reference path (without the recomputed border its corners are off by 0.6-0.9 here)."""
    from lowface.models.fused import FUSED_CONVOLUTION, fused_upsampled_join, upsampled_join

    if FUSED_CONVOLUTION is None:
        pytest.skip("this PyTorch has no oneDNN fused convolution; the plain blocks run instead")
    torch.manual_seed(5)
    conv, activation = nn.Conv2d(24 + 16, 16, 3, padding=1), nn.LeakyReLU(0.1)
    height, width = size
    low = torch.randn(2, 24, height, width).to(dtype).contiguous(memory_format=torch.channels_last)
    skips = [torch.randn(2, 16, 2 * height, 2 * width), torch.randn(2, 16, 2 * height + 1, 2 * width)]
    for skip in (s.to(dtype).contiguous(memory_format=torch.channels_last) for s in skips):
        with torch.inference_mode():
            fused = fused_upsampled_join(conv, activation, low, skip)
            reference = activation(conv(upsampled_join(low.float(), skip.float())))  # float32 modules
        assert fused.dtype == dtype and fused.shape == reference.shape
        assert_close(fused.float(), reference, atol=1e-5 if dtype == torch.float32 else 0.02, rtol=0)


def test_without_a_denoiser_the_tone_head_corrects_the_fast_enhancer_in_both_paths(monkeypatch):
    """``denoiser_width`` 0: the fast enhancer plus the tone head, R = clamp(S / I + tone(S / I, gain), 0, 1) - the
    fast enhancer's output while the head is untrained (zero last layer), its correction added once trained; the
    band-by-band inference path computes the training graph's values; it needs a tone head and no high-pass."""
    torch.manual_seed(12)
    settings = dict(scale=8, width=16, illumination_power=0.7, illumination_pivot=0.5)
    net = RestoreNet(**settings, denoiser_width=0, detail_sigma=None, tone_width=8, tone_lift_cap=1.0).eval()
    fast = FastEnhanceNet(**settings).eval()
    fast.load_state_dict(net.enhancer.state_dict())
    assert net.denoiser is None and net.receptive_radius == fast.receptive_radius and net.size_multiple == 8
    x = torch.rand(1, 3, 64, 96) * 0.3
    with torch.no_grad():
        assert torch.equal(net(x).reflectance, fast(x).reflectance)
        torch.nn.init.normal_(net.tone.layers[-1].weight, 0.0, 0.05)
        torch.nn.init.constant_(net.tone.layers[-1].bias, -0.05)
        base = fast(x)
        gain = -torch.log(base.illumination.mean(1, keepdim=True)) / GAIN_NORMALISER
        expected = (base.reflectance + net.tone(base.reflectance, gain)).clamp(0, 1)
    monkeypatch.setattr(RestoreNet, "BAND_PIXELS", 1000)
    training_graph = net(x.clone().requires_grad_(True)).reflectance.detach()
    assert_close(training_graph, expected, atol=1e-5, rtol=0)
    with torch.inference_mode():
        assert_close(net(x).reflectance, training_graph, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="needs detail_sigma None and a tone head"):
        RestoreNet(denoiser_width=0, detail_sigma=None)
    with pytest.raises(ValueError, match="needs detail_sigma None and a tone head"):
        RestoreNet(denoiser_width=0, detail_sigma=8.0, tone_width=8)


def test_the_denoiser_takes_one_width_or_one_for_each_level():
    assert ReflectanceDenoiser(16).widths == (16, 24, 32, 16)
    student = ReflectanceDenoiser([16, 32, 64])
    assert student.widths == (16, 32, 64, 16)
    assert [student.encode1[1][0].out_channels, student.decode2[0].in_channels, student.bottom[2][0].out_channels] == [
        16, 64 + 32, 64]  # fmt: skip
    head = ReflectanceDenoiser([32, 48, 64, 16])  # the last decoder step narrower than its level
    assert head.widths == (32, 48, 64, 16)
    assert [head.encode1[1][0].out_channels, head.decode1[0].in_channels, head.decode1[0].out_channels,
            head.out.in_channels] == [32, 48 + 32, 16, 16]  # fmt: skip
    assert head(torch.rand(1, 3, 16, 24), torch.rand(1, 1, 16, 24)).shape == (1, 3, 16, 24)
    for wrong in ([16, 32], [16, 0, 32], [16, 32, 64, 8, 8]):
        with pytest.raises(ValueError, match=r"one positive number, three \(one a level\) or four .*, got \["):
            RestoreNet(denoiser_width=wrong)


def test_a_larger_image_is_estimated_at_a_larger_downsampling_and_every_tile_as_the_whole(monkeypatch):
    """The illumination of an image whose short side is past ESTIMATOR_SIDE low-resolution pixels is estimated at
    twice the trained downsampling, per doubling (1080p at 1/8, issue 22); the tiles of such an image run at the
    whole image's downsampling with its radius and multiple, so tiling stays exact; a captured graph keeps the
    trained one."""
    from lowface.inference.enhancer import Enhancer
    from lowface.models.base import whole_image

    fast = FastEnhanceNet(4, 16)
    assert [fast.working_scale(*size) for size in [(512, 512), (1024, 1900), (1080, 1920), (2160, 3840)]] == [
        4, 4, 8, 16]  # fmt: skip
    clipped = FastEnhanceNet(4, 16, context_clip=1.5)  # its reach at 1/16 would be most of a default tile
    assert clipped.working_scale(2160, 3840) == 8 and clipped.low_radius * 8 <= clipped.default_tile // 4
    with whole_image(2160, 3840):
        assert fast.working_scale(300, 300) == 16 and fast.tiling(300, 300) == (fast.low_radius * 16, 16)
    monkeypatch.setattr(torch.jit, "is_tracing", lambda: True)
    assert fast.working_scale(2160, 3840) == 4
    monkeypatch.undo()

    torch.manual_seed(2)
    net = RestoreNet(4, 8, denoiser_width=8, tone_width=4, detail_guide_eps=0.01).eval()
    for p in [*net.denoiser.parameters(), *net.tone.parameters()]:  # the estimator as initialised: not saturated
        p.data.normal_(0, 0.1)
    x = torch.rand(1, 3, 80, 600) * 0.3
    fixed = Enhancer(net, device="cpu", tile=0, gate=False, precision="float32").enhance_tensor(x)
    monkeypatch.setattr(FastEnhanceNet, "ESTIMATOR_SIDE", 16)  # 80 > 16 * 4: this image at 1/8
    assert net.enhancer.working_scale(80, 600) == 8
    radius, multiple = net.tiling(80, 600)
    assert (radius, multiple) == (net.tail_radius + net.enhancer.low_radius * 8, 8)
    whole = Enhancer(net, device="cpu", tile=0, gate=False, precision="float32").enhance_tensor(x)
    tiled = Enhancer(net, device="cpu", tile=64, gate=False, precision="float32").enhance_tensor(x)
    assert (whole - fixed).abs().max() > 1e-3  # the downsampling did change
    assert_close(tiled, whole, atol=1e-5, rtol=0)  # tiles of 64 + 2 x 216 columns, each at 1/8


def test_the_denoising_strength_subtracts_that_share_of_the_high_passed_noise_in_both_paths():
    """denoise_strength s: R = base - s (noise - local mean) (no tone head here, no clamp at mid-grey), the same in
    the band-by-band inference path; set on a routed pair it reaches the restoring network only, and a model with no
    denoiser refuses it."""
    torch.manual_seed(3)
    net = RestoreNet(scale=8, width=16, denoiser_width=16, detail_sigma=4.0, detail_guide_eps=0.01).eval()
    for p in net.denoiser.out.parameters():
        torch.nn.init.normal_(p, 0.0, 0.05)
    x = 0.2 + 0.05 * torch.rand(1, 3, 40, 56)
    outputs = {}
    for strength in (0.0, 0.6, 1.0):
        net.denoise_strength = strength
        with torch.no_grad():
            outputs[strength] = net(x).reflectance
        with torch.inference_mode():
            assert_close(net(x).reflectance, outputs[strength], atol=1e-5, rtol=0)
    assert (outputs[1.0] - outputs[0.0]).abs().max() > 1e-2  # the denoiser acts
    assert (outputs[0.0] > 0).all() and (outputs[1.0] < 1).all()  # no clamp: the output is linear in s
    assert_close(outputs[0.6], outputs[0.0] + 0.6 * (outputs[1.0] - outputs[0.0]), atol=1e-5, rtol=0)
    base = net.enhancer(x).reflectance
    assert_close(outputs[0.0], base, atol=1e-6, rtol=0)  # nothing removed: the enhancer's reflectance
    with pytest.raises(ValueError, match=r"share of the noise removed, in \[0, 1\], got 1.5"):
        RestoreNet(denoise_strength=1.5)

    router = NoiseRouter((0.0,) * 3, (1.0,) * 3, (1.0, 0.0, 0.0), 0.0)
    routed = RoutedModel(FastEnhanceNet(), net, router, ("fast", "restore"))
    assert set_denoise_strength(routed, 0.25) == 1 and net.denoise_strength == 0.25
    with pytest.raises(ValueError, match="has no denoiser"):
        set_denoise_strength(FastEnhanceNet(), 0.5)
    with pytest.raises(ValueError, match="has no denoiser whose residual is only noise"):
        set_denoise_strength(RestoreNet(detail_sigma=None), 0.5)  # the v1-v3 residual also brightens
    with pytest.raises(ValueError, match=r"in \[0, 1\], got -0.1"):
        set_denoise_strength(routed, -0.1)
