"""tools/weights_variant.py: a shipped network's tensors with other arguments, run as ``name:path``; a bad setting
is one line and leaves no file."""

from __future__ import annotations

import json

import safetensors
import torch
from click.testing import CliRunner

from conftest import load_tool
from lowface.inference.catalogue import create_model, model_card, shipped_weights_path


def test_a_variant_runs_the_shipped_tensors_with_the_new_setting(tmp_path):
    out = tmp_path / "variant.safetensors"
    tool = load_tool("weights_variant").main
    result = CliRunner().invoke(tool, ["lowface-fast", str(out), "context_clip=1.5"])
    assert result.exit_code == 0, result.output
    with safetensors.safe_open(str(out), "pt") as handle:
        metadata = handle.metadata()
    with safetensors.safe_open(str(shipped_weights_path(model_card("lowface-fast"))), "pt") as handle:
        shipped_metadata = handle.metadata()
    recorded = json.loads(metadata["model"])
    assert recorded["context_clip"] == 1.5 and recorded["type"] == model_card("lowface-fast").architecture
    # the shipped file's own record (its training step and time) comes along: a variant shipped keeps it
    assert {k: v for k, v in metadata.items() if k != "model"} == {
        k: v for k, v in shipped_metadata.items() if k != "model"
    }
    assert "step" in shipped_metadata
    variant, shipped = create_model("lowface-fast", out), create_model("lowface-fast")
    assert variant.context_clip == 1.5 and shipped.context_clip != 1.5
    for (key, value), (_, reference) in zip(variant.state_dict().items(), shipped.state_dict().items(), strict=True):
        assert torch.equal(value, reference), key


def test_a_bad_setting_is_one_line_and_leaves_no_file(tmp_path):
    tool = load_tool("weights_variant").main
    out = tmp_path / "variant.safetensors"
    for settings, message in ((["context_clip"], "expected key=value"), (["context_clip=x"], "must be JSON"),
                              (["no_such_argument=1"], "no_such_argument")):  # fmt: skip
        result = CliRunner().invoke(tool, ["lowface-fast", str(out), *settings])
        assert result.exit_code != 0 and message in result.output, result.output
        assert not out.exists()
    result = CliRunner().invoke(tool, ["gamma", str(out)])
    assert result.exit_code != 0 and "no weights file" in result.output


def test_the_restoring_network_takes_the_clips_reach_to_its_estimator(tmp_path):
    out = tmp_path / "variant.safetensors"
    result = CliRunner().invoke(
        load_tool("weights_variant").main, ["lowface-restore-real", str(out), "context_sigma=4.0"]
    )
    assert result.exit_code == 0, result.output
    assert create_model("lowface-restore-real", out).enhancer.context_sigma == 4.0
    assert create_model("lowface-restore-real").enhancer.context_sigma == 12.0
