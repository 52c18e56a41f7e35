"""lowface.train.narrowing and tools/narrow_student.py: a narrower denoiser from its teacher's strongest channels."""

from __future__ import annotations

import json

import pytest
import safetensors
import safetensors.torch
import torch
from click.testing import CliRunner

from conftest import load_tool
from lowface.inference.catalogue import model_card, shipped_weights_path
from lowface.models.restore_net import ReflectanceDenoiser, level_widths
from lowface.train.narrowing import DENOISER_WIRING, narrowed_denoiser


def _teacher_with_dead_channels(width: int, live: int | list[int], mirror: bool = False) -> ReflectanceDenoiser:
    """A random width-``width`` denoiser whose every level has only ``live``-width's channels alive (the others'
    filters and biases zero: they output 0, whatever reads them); ``mirror``: its borders mirrored."""
    torch.manual_seed(0)
    teacher = ReflectanceDenoiser(width, mirror_edges=mirror)
    live_widths = dict(enumerate(level_widths(live), start=1))
    with torch.no_grad():
        for name, (_, level) in DENOISER_WIRING.items():
            conv = teacher.get_submodule(name)
            conv.weight.normal_(0, 0.2)
            conv.bias.normal_(0, 0.1)
            if level:
                dead = torch.randperm(conv.out_channels)[live_widths[level] :]
                conv.weight[dead] = 0.0
                conv.bias[dead] = 0.0
    return teacher.eval()


@pytest.mark.parametrize("mirror", [False, True])
def test_a_teacher_with_dead_channels_narrows_to_exactly_itself(mirror):
    """... borders included: a teacher that mirrors its borders gives a student that mirrors them too."""
    teacher = _teacher_with_dead_channels(width=8, live=4, mirror=mirror)
    student = narrowed_denoiser(teacher, 4)
    assert student.encode1[0][0].out_channels == 4 and student.bottom[2][0].out_channels == 8
    reflectance, gain = torch.rand(2, 3, 24, 40), torch.rand(2, 1, 24, 40)
    with torch.no_grad():
        expected = teacher(reflectance, gain)
        assert expected.abs().mean() > 0.1  # (the live channels carry something)
        torch.testing.assert_close(student(reflectance, gain), expected, rtol=1e-5, atol=1e-5)
        # one live channel fewer at every level: no longer the teacher
        assert (narrowed_denoiser(teacher, 2)(reflectance, gain) - expected).abs().mean() > 1e-3


def test_the_teachers_own_width_is_the_teacher_and_a_wider_student_is_refused():
    teacher = _teacher_with_dead_channels(width=8, live=8)
    reflectance, gain = torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(narrowed_denoiser(teacher, 8)(reflectance, gain), teacher(reflectance, gain))
    with pytest.raises(ValueError, match=r"widths \(12, 18, 24, 12\) must not exceed the teacher's \(8, 12, 16, 8\)"):
        narrowed_denoiser(teacher, 12)
    with pytest.raises(ValueError, match=r"widths \(4, 12, 24, 4\) must not exceed"):
        narrowed_denoiser(teacher, [4, 12, 24])


@pytest.mark.parametrize("live", [[3, 12, 10], [8, 12, 16, 3]])  # first and last levels cut; the last decoder step
def test_each_level_narrows_to_its_own_width(live):
    teacher = _teacher_with_dead_channels(width=8, live=live)
    student = narrowed_denoiser(teacher, live)
    assert student.widths == level_widths(live)
    assert student.decode1[0].out_channels == student.out.in_channels == level_widths(live)[3]
    reflectance, gain = torch.rand(1, 3, 24, 40), torch.rand(1, 1, 24, 40)
    with torch.no_grad():
        torch.testing.assert_close(student(reflectance, gain), teacher(reflectance, gain), rtol=1e-5, atol=1e-5)


def test_narrow_student_writes_loadable_weights_with_the_students_arguments(tmp_path):
    out = tmp_path / "init.safetensors"
    tool = load_tool("narrow_student").main
    result = CliRunner().invoke(tool, ["lowface-restore-real", str(out), "--denoiser-width", "16"])
    assert result.exit_code == 0, result.output
    with safetensors.safe_open(str(out), "pt") as handle:
        model = json.loads(handle.metadata()["model"])
        assert model["type"] == "restore_net" and model["denoiser_width"] == 16
        assert handle.get_tensor("denoiser.encode1.0.0.weight").shape == (16, 16, 3, 3)
        teacher = safetensors.torch.load_file(str(shipped_weights_path(model_card("lowface-restore-real"))))
        key = "enhancer.estimator.conv1.weight"  # the rest: the teacher's own tensors
        torch.testing.assert_close(handle.get_tensor(key), teacher[key], rtol=0, atol=1e-20)  # (denormals flushed)
    older = tmp_path / "w16.safetensors"  # another version of the network, read with its own arguments
    older.write_bytes(out.read_bytes())
    again = CliRunner().invoke(tool, [f"lowface-restore-real:{older}", str(out), "--denoiser-width", "16"])
    assert again.exit_code == 0, again.output
    same = safetensors.torch.load_file(str(older))
    assert all(torch.equal(v, same[k]) for k, v in safetensors.torch.load_file(str(out)).items())  # its own width
    missing = CliRunner().invoke(tool, ["lowface-restore-real:none.safetensors", str(out), "--denoiser-width", "8"])
    assert missing.exit_code == 1 and "no weights file none.safetensors" in missing.output
    levels = CliRunner().invoke(tool, ["lowface-restore-real", str(out), "--denoiser-width", "16,32,64"])
    assert levels.exit_code == 0, levels.output
    with safetensors.safe_open(str(out), "pt") as handle:
        assert json.loads(handle.metadata()["model"])["denoiser_width"] == [16, 32, 64]
        assert handle.get_tensor("denoiser.decode2.0.weight").shape == (32, 64 + 32, 3, 3)
    head = CliRunner().invoke(tool, ["lowface-restore-real", str(out), "--denoiser-width", "32,48,64,16"])
    assert head.exit_code == 0, head.output
    with safetensors.safe_open(str(out), "pt") as handle:
        assert json.loads(handle.metadata()["model"])["denoiser_width"] == [32, 48, 64, 16]
        assert handle.get_tensor("denoiser.decode1.0.weight").shape == (16, 48 + 32, 3, 3)
        assert handle.get_tensor("denoiser.out.weight").shape == (12, 16, 3, 3)
    for wrong in ("16,32", "16,x,64", "0"):
        refused = CliRunner().invoke(tool, ["lowface-restore-real", str(out), "--denoiser-width", wrong])
        assert refused.exit_code == 2 and f"'{wrong}': one positive width, three or four" in refused.output
    refused = CliRunner().invoke(tool, ["zero-dce", str(tmp_path / "z.safetensors"), "--denoiser-width", "16"])
    assert refused.exit_code == 1 and "only a restore_net has a denoiser" in refused.output
    nothing = CliRunner().invoke(tool, ["lowface-restore-real", str(tmp_path / "n.safetensors")])
    assert nothing.exit_code == 2 and "give --denoiser-width or --denoiser-from, and/or --tone-width" in nothing.output


def test_denoiser_from_takes_another_networks_denoiser_and_its_folding(tmp_path):
    out = tmp_path / "u4.safetensors"
    tool = load_tool("narrow_student").main
    donor_name = "lowface-restore-real-fast"
    result = CliRunner().invoke(tool, ["lowface-restore-real", str(out), "--denoiser-from", donor_name])
    assert result.exit_code == 0, result.output
    own = safetensors.torch.load_file(str(shipped_weights_path(model_card("lowface-restore-real"))))
    donor = safetensors.torch.load_file(str(shipped_weights_path(model_card(donor_name))))
    made = safetensors.torch.load_file(str(out))
    assert made.keys() == own.keys() - {k for k in own if k.startswith("denoiser.")} | {
        k for k in donor if k.startswith("denoiser.")
    }
    assert all(torch.equal(made[k], donor[k] if k.startswith("denoiser.") else own[k]) for k in made)
    with safetensors.safe_open(str(out), "pt") as handle:
        model = json.loads(handle.metadata()["model"])
    assert model["unshuffle"] == 4 and model["denoiser_width"] == [24, 36, 48, 24]
    assert model["tone_width"] == 8 and model["denoiser_mirror"]  # the rest: the receiving network's arguments
    both = CliRunner().invoke(tool, ["lowface-restore-real", str(out), "--denoiser-width", "16", "--denoiser-from",
                                     "lowface-restore-real-fast"])  # fmt: skip
    assert both.exit_code == 2 and "not both" in both.output
    toneless = CliRunner().invoke(tool, ["lowface-restore-real", str(out), "--denoiser-from", "lowface-fast-tone"])
    assert toneless.exit_code == 1 and "lowface-fast-tone has no denoiser" in toneless.output
    gone = CliRunner().invoke(tool, ["lowface-restore-real", str(out), "--denoiser-from", "lowface-restore-real:x.st"])
    assert gone.exit_code == 1 and "no weights file x.st" in gone.output


def test_a_narrower_tone_head_fitted_to_its_teachers_function_computes_it_and_keeps_its_bounds():
    """A teacher head of width 16 whose hidden units come in identical pairs is a width-8 function: the fit finds
    it (correction within an eighth of its spread on unseen inputs), where the untrained student is as far off
    as the spread itself; the student keeps the teacher's lift cap, margin and colour share, and the caller's random
    state is left as it was."""
    from lowface.models.restore_net import PointwiseTone
    from lowface.train.narrowing import fitted_tone

    torch.manual_seed(3)
    small = PointwiseTone(8)
    with torch.no_grad():
        for layer in (small.layers[0], small.layers[2], small.layers[4]):
            layer.weight.normal_(0, 0.7)
            layer.bias.normal_(0, 0.1)
    teacher = PointwiseTone(16, lift_cap=0.5, lift_margin=0.02, chroma_share=0.75)
    with torch.no_grad():  # each hidden unit twice, the readers' weights halved: the same function at width 16
        teacher.layers[0].weight.copy_(small.layers[0].weight.repeat(2, 1, 1, 1))
        teacher.layers[0].bias.copy_(small.layers[0].bias.repeat(2))
        teacher.layers[2].weight.copy_(small.layers[2].weight.repeat(2, 2, 1, 1) / 2)
        teacher.layers[2].bias.copy_(small.layers[2].bias.repeat(2))
        teacher.layers[4].weight.copy_(small.layers[4].weight.repeat(1, 2, 1, 1) / 2)
        teacher.layers[4].bias.copy_(small.layers[4].bias)
    inputs, unseen = torch.rand(20000, 4), torch.rand(2, 4, 30, 40)
    state = torch.random.get_rng_state()
    student = fitted_tone(teacher, 8, inputs, steps=1500)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert (student.lift_cap, student.lift_margin, student.chroma_share) == (0.5, 0.02, 0.75)
    assert student.layers[0].out_channels == 8
    with torch.no_grad():
        expected = teacher.layers(unseen)
        spread = expected.std()
        assert (student.layers(unseen) - expected).abs().mean() < 0.125 * spread
        assert (PointwiseTone(8).layers(unseen) - expected).abs().mean() > 0.8 * spread
