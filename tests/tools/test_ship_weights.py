"""tools/ship_weights.py: the manifest records the shipped file's own step, not the last logged one, and a one-line
summary for every name."""

from __future__ import annotations

import json

import pytest
from torch import nn

from conftest import load_tool
from lowface.train.checkpoints import export_weights


def test_the_recorded_step_is_the_weights_own_and_the_loss_the_last_logged_before_it(tmp_path):
    log = [{"step": 10, "loss": 0.5, "train_seconds": 3.0}, {"step": 20, "loss": 0.4, "train_seconds": 6.0},
           {"step": 30, "loss": 0.3, "train_seconds": 9.0}]  # fmt: skip
    snapshot = export_weights(tmp_path / "step-25.safetensors", nn.Linear(2, 2), 25, 7.4, {"type": "linear"})
    trained_for = load_tool("ship_weights").trained_for
    assert trained_for(snapshot, log) == {"steps": 25, "train_seconds": 7.0, "final_loss": 0.4}


def test_a_new_name_needs_a_one_line_summary_and_a_new_version_keeps_its_own(tmp_path, monkeypatch):
    """`lowface models` lists a line each: shipping a new name without --summary is refused before anything is
    written; a new version of a shipped name keeps its summary unless given another."""
    tool = load_tool("ship_weights")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("model: {type: linear}\n")
    (run / "log.jsonl").write_text('{"step": 5, "loss": 0.1, "train_seconds": 1.0}\n')
    export_weights(run / "model.safetensors", nn.Linear(2, 2), 5, 1.0, {"type": "linear"})
    monkeypatch.setattr(tool, "WEIGHTS_DIR", tmp_path)

    def ship(*extra: str) -> dict:
        command = ["ship_weights.py", "tiny", str(run), "--description", "d", "--command", "c", *extra]
        monkeypatch.setattr("sys.argv", command)
        tool.main()
        return json.loads((tmp_path / "manifest.json").read_text())["tiny"]

    with pytest.raises(SystemExit):
        ship()
    assert not (tmp_path / "manifest.json").exists() and not (tmp_path / "tiny.safetensors").exists()
    assert ship("--summary", "a tiny test model")["summary"] == "a tiny test model"
    assert ship()["summary"] == "a tiny test model"
