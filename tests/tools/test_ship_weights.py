"""tools/ship_weights.py: the manifest records the shipped file's own step, not the last logged one."""

from __future__ import annotations

from torch import nn

from conftest import load_tool
from lowface.train.checkpoints import export_weights


def test_the_recorded_step_is_the_weights_own_and_the_loss_the_last_logged_before_it(tmp_path):
    log = [{"step": 10, "loss": 0.5, "train_seconds": 3.0}, {"step": 20, "loss": 0.4, "train_seconds": 6.0},
           {"step": 30, "loss": 0.3, "train_seconds": 9.0}]  # fmt: skip
    snapshot = export_weights(tmp_path / "step-25.safetensors", nn.Linear(2, 2), 25, 7.4, {"type": "linear"})
    trained_for = load_tool("ship_weights").trained_for
    assert trained_for(snapshot, log) == {"steps": 25, "train_seconds": 7.0, "final_loss": 0.4}
