"""int8 convolutions for the restoring U-Net: the simulated 8-bit activations (quantisation-aware training and
calibration) and the oneDNN runtime built from their ranges."""

from __future__ import annotations

import copy

import pytest
import torch

from conftest import needs_int8
from lowface.models import RestoreNet
from lowface.models.int8 import Grid, int8_can_run, leaky_table, quantised
from lowface.models.int8_aware import ActivationQuantiser
from lowface.models.precision import bfloat16_runs, conv_precision, exact_int8_sums, native_bfloat16, resolve_precision

FLOAT = torch.bfloat16 if native_bfloat16(torch.device("cpu")) else torch.float32  # what int8 runs the rest in


def test_a_quantiser_tracks_its_range_and_rounds_to_256_levels_with_straight_through_gradients():
    quantiser = ActivationQuantiser(momentum=0.5).eval()
    assert torch.equal(quantiser(torch.tensor([3.0])), torch.tensor([3.0]))  # eval, never calibrated: untouched
    quantiser.train()
    quantiser(torch.tensor([0.5, 2.0]))  # the first batch sets the range; zero is always inside it
    assert (float(quantiser.low), float(quantiser.high)) == (0.0, 2.0)
    quantiser(torch.tensor([-1.0, 4.0]))
    assert (float(quantiser.low), float(quantiser.high)) == (-0.5, 3.0)
    quantiser.eval()
    x = torch.linspace(-2, 5, 5000, requires_grad=True)
    y = quantiser(x)
    step = 3.5 / 255  # the levels are nudged so that zero is one of them
    values = torch.unique(y.detach())
    assert len(values) == 256 and (values == 0).any() and torch.allclose(values.diff(), torch.tensor(step), atol=1e-6)
    assert abs(float(values[0]) + 0.5) < step and abs(float(values[-1]) - 3.0) < step
    assert (float(quantiser.low), float(quantiser.high)) == (-0.5, 3.0)  # eval: fixed
    y.sum().backward()
    inside = (x > float(values[0])) & (x < float(values[-1]))
    outside = (x < float(values[0]) - step) | (x > float(values[-1]) + step)
    assert torch.equal(x.grad[inside], torch.ones(int(inside.sum()))) and float(x.grad[outside].abs().sum()) == 0


def test_a_calibrating_quantiser_without_momentum_averages_every_batch():
    quantiser = ActivationQuantiser(momentum=None).train()
    for low, high in [(-0.3, 1.0), (-0.1, 2.0), (0.2, 3.0)]:
        quantiser(torch.tensor([low, high]))
    assert float(quantiser.low) == pytest.approx(-0.4 / 3) and float(quantiser.high) == pytest.approx(2.0)


def test_the_leaky_table_maps_a_pre_activation_grid_onto_the_activation_grid():
    pre, post = Grid.spanning(-3.0, 1.0), Grid.spanning(-0.3, 1.0)
    table = torch.from_numpy(leaky_table(pre, post))
    values = post.values()[table.long()]
    levels = post.values()
    expected = torch.nn.functional.leaky_relu(pre.values(), 0.1).clamp(levels[0], levels[-1])  # saturated at the top
    assert float((values - expected).abs().max()) <= post.scale / 2 + 1e-6
    assert post.values()[post.zero_point] == 0 and pre.values()[pre.zero_point] == 0


def test_quantised_levels_keep_the_layout_they_are_given():
    grid = Grid.spanning(-1.0, 1.0)
    x = torch.linspace(-1.3, 1.3, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    expected = torch.round(x / grid.scale + grid.zero_point).clamp(0, 255).to(torch.uint8)  # saturated both ends
    for layout in (torch.contiguous_format, torch.channels_last):
        levels = quantised(x.contiguous(memory_format=layout), grid)
        assert levels.is_contiguous(memory_format=layout) and torch.equal(levels, expected)
    assert torch.equal(quantised(x[..., ::2], grid), expected[..., ::2])  # strided: copied first


def calibrated_net(size: tuple[int, int] = (72, 104)) -> RestoreNet:
    """A RestoreNet with mirror-padded, int8-aware denoiser whose last layers act, calibrated on dark noise."""
    torch.manual_seed(0)
    net = RestoreNet(tone_width=8, detail_guide_eps=0.01, denoiser_mirror=True, denoiser_int8_aware=True).eval()
    torch.nn.init.normal_(net.denoiser.out.weight, 0.0, 0.05)
    net.denoiser.quantisers.train()
    with torch.inference_mode():
        for seed in range(4):
            net(torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(seed)) * 0.3)
    net.denoiser.quantisers.eval()
    return net


def test_an_uncalibrated_int8_aware_network_asked_for_int8_runs_its_float_path():
    torch.manual_seed(0)
    net = RestoreNet(denoiser_int8_aware=True).eval()
    torch.nn.init.normal_(net.denoiser.out.weight, 0.0, 0.05)
    x = torch.rand(1, 3, 40, 56) * 0.3
    with torch.inference_mode():
        with conv_precision(torch.int8):
            int8 = net(x).reflectance
        with conv_precision(FLOAT):
            reference = net(x).reflectance
    assert not net.denoiser.calibrated() and torch.equal(int8, reference)


@needs_int8
def test_the_int8_unet_follows_the_float_network_to_its_borders():
    net = calibrated_net()
    x = torch.rand(2, 3, 70, 101, generator=torch.Generator().manual_seed(9)) * 0.3  # odd sizes: padded, cropped
    with torch.inference_mode():
        with conv_precision(torch.float32):
            reference = net(x)
        with conv_precision(torch.int8):
            int8 = net(x)
            alone = net(x[1:]).reflectance
    difference = (int8.reflectance - reference.reflectance).abs()
    assert int8.reflectance.shape == x.shape and int8.reflectance.dtype == torch.float32
    assert 0 < float(difference.mean()) < 0.01, "int8 is the network, to within its rounding"
    border = torch.cat([difference[..., :3, :].flatten(), difference[..., -3:, :].flatten(),
                        difference[..., :, :3].flatten(), difference[..., :, -3:].flatten()])  # fmt: skip
    assert float(border.mean()) < 3 * float(difference.mean()) + 2e-3, "mirror padding kept at the borders"
    assert torch.allclose(alone, int8.reflectance[1:], atol=2e-3), "each image of a batch on its own"


@needs_int8
def test_the_int8_runtime_is_rebuilt_when_the_weights_change():
    net = calibrated_net()
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(3)) * 0.3
    with torch.inference_mode(), conv_precision(torch.int8):
        before = net(x).reflectance
        runtime = net.denoiser.int8_unet()
        assert net.denoiser.int8_unet() is runtime  # packed once
        net.denoiser.out.weight.mul_(2.0)
        after = net(x).reflectance
    assert net.denoiser.int8_unet() is not runtime and not torch.equal(before, after)


@needs_int8
def test_a_network_that_ran_in_int8_copies_and_the_copy_computes_the_same():
    """A served model runs, then is copied for a job's denoising strength: the packed runtime is left out of the copy
    (oneDNN's packed weights cannot be copied) and rebuilt there."""
    net = calibrated_net()
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(4)) * 0.3
    with torch.inference_mode(), conv_precision(torch.int8):
        before = net(x).reflectance
    copied = copy.deepcopy(net)
    assert "_int8" in net.denoiser.__dict__ and "_int8" not in copied.denoiser.__dict__
    with torch.inference_mode(), conv_precision(torch.int8):
        assert torch.equal(copied(x).reflectance, before)


@needs_int8
def test_the_int8_runtime_is_rebuilt_for_the_precision_of_the_rest():
    net = calibrated_net()
    with torch.inference_mode():
        with conv_precision(torch.float32):
            plain = net.denoiser.int8_unet()
        with conv_precision(torch.int8):
            beside = net.denoiser.int8_unet()
    assert plain.join1.skip.out_dtype == torch.float32 and beside.join1.skip.out_dtype == FLOAT
    assert all(part.out_dtype == beside.join1.skip.out_dtype for part in beside.join1.upsampled)


@needs_int8
@pytest.mark.skipif(not exact_int8_sums(), reason="no VNNI: oneDNN's 16-bit partial sums are not simulated")
def test_the_training_simulation_computes_what_the_int8_runtime_computes(monkeypatch):
    """Quantisation-aware training trains the runtime: the simulated U-Net (float ops, rounding where the runtime
    rounds) gives the runtime's output to float rounding where the rest runs in float32 (no bfloat16 joins)."""
    import lowface.models.precision as precision

    monkeypatch.setattr(precision, "_cpu_float_dtype", lambda: torch.float32)
    net = calibrated_net()
    x = torch.rand(2, 3, 70, 101, generator=torch.Generator().manual_seed(4)) * 0.3
    with torch.inference_mode():
        with conv_precision(torch.float32):
            reference = net(x).reflectance
        with conv_precision(torch.int8):
            runtime = net(x).reflectance
        for quantiser in net.denoiser.quantisers.values():
            quantiser.momentum = 0.0  # the ranges stay as calibrated
        net.denoiser.quantisers.train()
        simulated = net(x).reflectance
    net.denoiser.quantisers.eval()
    rounding = (runtime - reference).abs().mean()
    assert float(rounding) > 1e-4, "the runtime rounds"
    assert float((simulated - runtime).abs().mean()) < 0.05 * float(rounding), "the simulation rounds the same way"


def test_training_an_int8_aware_denoiser_rounds_its_maps_and_passes_gradients():
    net = calibrated_net()
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(5)) * 0.3
    with torch.no_grad():
        plain = net(x).reflectance  # eval: the float network
    net.train()
    low_before = float(net.denoiser.quantisers["encode1_0"].low)
    trained = net(x).reflectance
    trained.mean().backward()
    assert not torch.equal(trained.detach(), plain)
    assert float(net.denoiser.quantisers["encode1_0"].low) != low_before  # training moves the ranges
    for conv in (net.denoiser.encode1[0][0], net.denoiser.decode2[0], net.denoiser.decode1[0]):
        gradient = conv.weight.grad  # through the int8 weights and the joins' folded phase weights
        assert gradient is not None and torch.isfinite(gradient).all() and float(gradient.abs().sum()) > 0


def test_int8_is_a_cpu_precision():
    assert resolve_precision("int8", torch.device("cpu")) == torch.int8
    with pytest.raises(ValueError, match="int8 convolutions run on CPUs only"):
        resolve_precision("int8", torch.device("cuda"))


def test_calibrated_weights_start_a_training_run_with_or_without_quantisers(tmp_path):
    """A shipped file carries its int8 ranges; a config without ``denoiser_int8_aware`` still starts from it (the
    ranges are left out), and one with it takes them."""
    import safetensors.torch

    from lowface.train.checkpoints import load_initial_weights

    calibrated = calibrated_net()
    path = tmp_path / "calibrated.safetensors"
    safetensors.torch.save_file(calibrated.state_dict(), str(path))
    for aware in (False, True):
        net = RestoreNet(tone_width=8, detail_guide_eps=0.01, denoiser_mirror=True, denoiser_int8_aware=aware)
        load_initial_weights(net, str(path))
        assert torch.equal(net.denoiser.encode1[0][0].weight, calibrated.denoiser.encode1[0][0].weight)
        assert net.denoiser.calibrated() == aware
    parts = RestoreNet(tone_width=8, detail_guide_eps=0.01, denoiser_mirror=True)
    load_initial_weights(parts, f"{path}#denoiser,tone")
    assert torch.equal(parts.denoiser.out.weight, calibrated.denoiser.out.weight)


@needs_int8
def test_the_shipped_restoring_network_runs_its_unet_in_int8_when_asked():
    from lowface.inference.enhancer import Enhancer

    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(1)) * 0.25
    reduced = Enhancer.from_pretrained("lowface-restore-real", device="cpu", gate=False, precision=str(FLOAT)[6:])
    int8 = Enhancer.from_pretrained("lowface-restore-real", device="cpu", gate=False, precision="int8")
    assert int8.model.denoiser.calibrated() and "precision=int8" in repr(int8)
    a, b = reduced.enhance_tensor(x), int8.enhance_tensor(x)
    assert 0 < float((a - b).abs().mean()) < 0.01 and float((a - b).abs().max()) < 0.15


def test_a_weights_file_without_ranges_or_arguments_loads_into_the_calibrated_network(tmp_path):
    import safetensors.torch

    from lowface.inference.catalogue import create_model

    shipped = create_model("lowface-restore-real").state_dict()
    plain = {key: value for key, value in shipped.items() if ".quantisers." not in key}
    path = tmp_path / "older.safetensors"
    safetensors.torch.save_file(plain, str(path))  # no metadata: built with the manifest's arguments
    model = create_model("lowface-restore-real", path)
    assert model.denoiser.quantisers is not None and not model.denoiser.calibrated()
    assert torch.equal(model.denoiser.out.weight, shipped["denoiser.out.weight"])
    broken = dict(plain)
    del broken["denoiser.out.weight"]
    safetensors.torch.save_file(broken, str(path))
    with pytest.raises(RuntimeError, match=r"denoiser\.out\.weight"):
        create_model("lowface-restore-real", path)


def test_an_int8_output_is_recorded_as_such_so_that_a_rerun_at_another_precision_redoes_it():
    from lowface.inference.catalogue import model_fingerprint
    from lowface.inference.enhancer import Enhancer

    floats = ("float32", "bfloat16") if bfloat16_runs(torch.device("cpu")) else ("float32",)
    for name in ("lowface-restore-real", "lowface-auto"):
        made = {p: Enhancer.from_pretrained(name, device="cpu", precision=p).recipe for p in (*floats, "int8")}
        assert all(made[p] == made["float32"] for p in floats) and "precision" not in made["float32"]
        int8 = {**made["float32"], "precision": "int8", "weights_sha256": model_fingerprint(name, int8=True)}
        assert made["int8"] == int8 and int8["weights_sha256"] != made["float32"]["weights_sha256"]
        assert all(Enhancer.recipe_for(name, precision=p) == made[p] for p in made), "a planner records the same"
    assert model_fingerprint("lowface-fast", int8=True) == model_fingerprint("lowface-fast"), "no int8 weights"


def test_a_ray_plan_records_what_its_actors_compute_whatever_their_device_or_cpu():
    """The driver plans for the actors' device (a CPU-only driver of a GPU cluster records no int8: GPUs never run it)
    and the actors run what the plan records: int8 where the driver's CPU resolved ``auto`` to it, elsewhere ``auto``
    kept off int8, so a CPU whose ``auto`` differs from the driver's neither computes nor records another precision."""
    from lowface.inference.enhancer import Enhancer
    from lowface.inference.ray_batch import actor_precision
    from lowface.models.precision import resolve_precision

    name, cpu = "lowface-restore-real", torch.device("cpu")
    floats = Enhancer.recipe_for(name, precision="float32")
    assert Enhancer.recipe_for(name, precision="auto", device="cuda") == floats  # no int8 on a GPU, whatever this CPU
    assert Enhancer.recipe_for(name, precision="bfloat16", device="cuda") == floats
    with pytest.raises(ValueError, match="int8 convolutions run on CPUs only, not on cuda"):
        Enhancer.recipe_for(name, precision="int8", device="cuda")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        Enhancer.recipe_for(name, precision="fp8", device="cuda")
    assert actor_precision("auto", True, "cpu") == "int8"  # the driver's CPU resolved auto to int8
    assert resolve_precision(actor_precision("auto", False, "cpu"), cpu) != torch.int8  # it did not
    assert actor_precision("float32", False, "cpu") == "float32" and actor_precision("auto", False, "cuda") == "auto"
    planned = Enhancer.recipe_for(name, precision="auto")
    actor = actor_precision("auto", planned.get("precision") == "int8", "cpu")
    assert Enhancer.from_pretrained(name, device="cpu", precision=actor).recipe == planned


def test_the_shipped_int8_weights_are_what_int8_runs_on_and_nothing_else():
    """lowface-restore-real ships its denoiser's int8 weights apart: int8 runs on them as if they were the network's
    own, every float precision on the network's own, and its state dict holds its own alone."""
    import safetensors.torch

    from lowface.assets import WEIGHTS, package_file
    from lowface.inference.catalogue import create_model, model_card, shipped_weights_path

    card = model_card("lowface-restore-real")
    shipped = create_model("lowface-restore-real")
    own_only = create_model("lowface-restore-real", shipped_weights_path(card))  # given weights: their own int8
    int8_state = safetensors.torch.load_file(str(package_file(WEIGHTS, card.int8["file"])))
    assert set(int8_state) == {key for key in shipped.state_dict() if key.startswith("denoiser.")}
    swapped = create_model("lowface-restore-real")
    swapped.load_state_dict({**shipped.state_dict(), **int8_state})
    assert shipped.state_dict().keys() == own_only.state_dict().keys()
    assert all(torch.equal(value, own_only.state_dict()[key]) for key, value in shipped.state_dict().items())
    assert own_only.denoiser.int8_source() is own_only.denoiser
    copied = copy.deepcopy(shipped).denoiser  # as ``Enhancer(denoise=...)`` copies it
    assert copied.int8_source() is not copied and torch.equal(
        copied.int8_source().out.weight, int8_state["denoiser.out.weight"]
    )
    x = torch.rand(1, 3, 48, 72, generator=torch.Generator().manual_seed(5)) * 0.25
    with torch.inference_mode():
        with conv_precision(torch.float32):
            assert torch.equal(shipped(x).reflectance, own_only(x).reflectance)
        if int8_can_run(x):
            with conv_precision(torch.int8):
                outputs = [net(x).reflectance for net in (shipped, own_only, swapped)]
            assert torch.equal(outputs[0], outputs[2]) and not torch.equal(outputs[0], outputs[1])


def test_int8_weights_with_no_place_to_go_are_refused():
    from lowface.inference.catalogue import _use_int8_weights

    net = calibrated_net()
    state = {f"denoiser.{key}": value for key, value in net.denoiser.state_dict().items()}
    _use_int8_weights(net, state)
    assert net.denoiser.int8_source() is not net.denoiser
    with pytest.raises(ValueError, match=r"no int8-capable module to take them: \['tone\.stray'\]"):
        _use_int8_weights(net, {**state, "tone.stray": torch.zeros(1)})


@needs_int8
@pytest.mark.skipif(not exact_int8_sums(), reason="no VNNI: oneDNN's 16-bit partial sums saturate on this grid")
def test_a_quantised_convolution_pads_with_zero_on_a_grid_whose_zero_is_not_level_0():
    from lowface.models.int8 import QuantisedConvolution

    conv = torch.nn.Conv2d(4, 5, 3, padding=1)
    torch.manual_seed(0)
    grid = Grid.spanning(-1.0, 1.0)  # zero at level 128
    x = torch.rand(1, 4, 6, 7) * 2 - 1
    levels = quantised(x.contiguous(memory_format=torch.channels_last), grid)
    out = QuantisedConvolution(conv, grid, bias=conv.bias)(levels)
    with torch.no_grad():
        expected = conv((levels.float() - grid.zero_point) * grid.scale)
    assert float((out - expected).abs().max()) < 0.02  # border pixels included: int8 weights' rounding only
