"""Training: config validation, a short real run, and resume giving exactly the uninterrupted result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors.torch
import torch

from conftest import smooth_test_image
from lowface.io import ImageData, write_image
from lowface.train.config import load_config
from lowface.train.trainer import Trainer


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """A fake data root with an lfw/ folder of six small images and a train_images.txt."""
    root = tmp_path_factory.mktemp("data")
    lines = []
    for i in range(6):
        rel = f"lfw-deepfunneled/P{i}/P{i}_0001.png"
        write_image(root / "lfw" / rel, ImageData(smooth_test_image(48, 48, seed=i)))
        lines.append(rel)
    (root / "lfw" / "train_images.txt").write_text("\n".join(lines) + "\n")
    return root


def config_for(tiny_data: Path, out_dir: Path, steps: int, model: str = "fast_enhance_net"):
    return load_config(
        None,
        [
            f"data_root={tiny_data}",
            f"out_dir={out_dir}",
            f"steps={steps}",
            "crop=32",
            "checkpoint_every=1",
            "log_every=1",
            f"model.type={model}",
        ],
    )


def test_unknown_config_keys_are_rejected_with_the_valid_ones_listed(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stepz: 10\n")
    with pytest.raises(ValueError, match=r"unknown keys \['stepz'\].*valid keys"):
        load_config(bad)
    with pytest.raises(ValueError, match="key=value"):
        load_config(None, ["steps"])
    assert load_config(None, ["loss_weights.smooth=0"]).loss_weights["color"] == 0.05


def test_configs_shipped_in_the_repository_load():
    for path in Path(__file__).resolve().parents[1].joinpath("configs").glob("*.yaml"):
        assert load_config(path).model["type"] in ("enhance_net", "fast_enhance_net")


@pytest.mark.parametrize("model", ["enhance_net", "fast_enhance_net"])
def test_short_run_logs_every_term_and_exports_weights(tiny_data: Path, tmp_path: Path, model: str):
    path = Trainer(config_for(tiny_data, tmp_path / "run", 3, model)).fit()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3]
    assert {"feature_cr", "brightness_cr", "perceptual", "color", "smooth"} <= set(log[0])
    weights = safetensors.torch.load_file(str(path))
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_resume_after_interruption_equals_uninterrupted_run(tiny_data: Path, tmp_path: Path):
    straight = Trainer(config_for(tiny_data, tmp_path / "straight", 4)).fit()
    Trainer(config_for(tiny_data, tmp_path / "resumed", 2)).fit()  # "interrupted" after two steps
    resumed_trainer = Trainer(config_for(tiny_data, tmp_path / "resumed", 4))
    assert resumed_trainer.step == 2
    resumed = resumed_trainer.fit()
    a, b = safetensors.torch.load_file(str(straight)), safetensors.torch.load_file(str(resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_nan_loss_skips_the_step_without_touching_weights(tiny_data: Path, tmp_path: Path):
    trainer = Trainer(config_for(tiny_data, tmp_path / "nan", 1))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    batch = trainer.batch(0)
    batch["positive"] = torch.full_like(batch["positive"], float("nan"))
    assert trainer.train_step(batch) is None
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
