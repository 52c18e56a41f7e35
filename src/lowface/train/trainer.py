"""Unpaired training of a Retinex enhancer with Low-FaceNet's objective; resumable at any point.

The run folder holds ``config.yaml``, ``checkpoint.pt`` (model + optimizer + step, written atomically),
``log.jsonl`` (every loss term) and, at the end, ``model.safetensors``.
"""

from __future__ import annotations

import io
import json
import random
import time
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import yaml
from torch import nn
from tqdm import tqdm

from lowface.backbones import create_feature_extractor
from lowface.data.datasets import UnpairedLowLightDataset
from lowface.data.lfw import lfw_train_images
from lowface.io import atomic_write_bytes
from lowface.losses.objective import LowFaceNetObjective
from lowface.registry import MODELS
from lowface.train.config import TrainConfig

MAX_CONSECUTIVE_BAD_STEPS = 20


def build_model(config: TrainConfig) -> nn.Module:
    kwargs = {k: v for k, v in config.model.items() if k != "type"}
    return MODELS.create(config.model["type"], **kwargs)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Owns the model, the objective, the optimizer and the run folder."""

    def __init__(self, config: TrainConfig, dataset: UnpairedLowLightDataset | None = None):
        self.config = config
        if config.threads:
            torch.set_num_threads(config.threads)
        seed_everything(config.seed)
        self.out_dir = Path(config.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.model = build_model(config)
        features = create_feature_extractor(config.features, config.features_weights)
        self.objective = LowFaceNetObjective(features, config.loss_weights, config.distance, config.use_negatives)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.dataset = dataset or UnpairedLowLightDataset(
            lfw_train_images(config.data_root),
            config.crop,
            config.ratio_range,
            config.target_brightness,
            config.seed,
        )
        self.step = 0
        self.train_seconds = 0.0  # wall time spent training, summed over resumed sessions
        self.checkpoint_path = self.out_dir / "checkpoint.pt"
        if self.checkpoint_path.exists():
            self._load_checkpoint()
        else:
            atomic_write_bytes(self.out_dir / "config.yaml", yaml.safe_dump(config.to_dict()).encode())

    # -- checkpoints ------------------------------------------------------------------------------------

    def _load_checkpoint(self) -> None:
        state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        torch.set_rng_state(state["torch_rng"])

    def save_checkpoint(self) -> None:
        buffer = io.BytesIO()
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "step": self.step,
                "torch_rng": torch.get_rng_state(),
            },
            buffer,
        )
        atomic_write_bytes(self.checkpoint_path, buffer.getvalue())

    def export_weights(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path is not None else self.out_dir / "model.safetensors"
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        atomic_write_bytes(
            path,
            safetensors.torch.save(
                state, metadata={"step": str(self.step), "train_seconds": f"{self.train_seconds:.0f}"}
            ),
        )
        return path

    # -- data order -------------------------------------------------------------------------------------

    def batch_indices(self, step: int) -> list[int]:
        """Indices of the batch at a global step: a seeded permutation per epoch (resume-exact)."""
        per_epoch = max(len(self.dataset) // self.config.batch_size, 1)
        epoch, offset = divmod(step, per_epoch)
        order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.config.seed + epoch))
        self.dataset.set_epoch(epoch)
        size = self.config.batch_size
        return order[offset * size : (offset + 1) * size].tolist()

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        items = [self.dataset[i] for i in self.batch_indices(step)]
        return {key: torch.stack([item[key] for item in items]) for key in items[0]}

    # -- the loop ---------------------------------------------------------------------------------------

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]] | None:
        """One optimisation step; returns None (and changes nothing) when the loss is not finite."""
        self.model.train()
        output = self.model(batch["low"])
        loss, terms = self.objective(batch["low"], output, batch["positive"], batch["negative"])
        if not torch.isfinite(loss):
            self.optimizer.zero_grad(set_to_none=True)
            return None
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return loss.item(), {k: v.item() for k, v in terms.items()}

    def fit(self) -> Path:
        """Train until ``steps`` (or ``max_minutes``) and return the exported weights' path."""
        config, start, bad = self.config, time.monotonic(), 0
        already = self.train_seconds
        progress = tqdm(total=config.steps, initial=self.step, desc=f"train {config.model['type']}", unit="step")
        with open(self.out_dir / "log.jsonl", "a") as log:
            while self.step < config.steps:
                result = self.train_step(self.batch(self.step))
                if result is None:
                    bad += 1
                    if bad >= MAX_CONSECUTIVE_BAD_STEPS:
                        raise FloatingPointError(f"{bad} consecutive non-finite losses at step {self.step}")
                else:
                    bad = 0
                self.step += 1
                self.train_seconds = already + time.monotonic() - start
                progress.update(1)
                if result is not None and (self.step % config.log_every == 0 or self.step == config.steps):
                    loss, terms = result
                    record = {"step": self.step, "loss": loss, **terms, "train_seconds": round(self.train_seconds, 1)}
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    progress.set_postfix(loss=f"{loss:.4f}")
                if self.step % config.checkpoint_every == 0:
                    self.save_checkpoint()
                if config.max_minutes is not None and time.monotonic() - start > 60 * config.max_minutes:
                    break
        progress.close()
        self.save_checkpoint()
        return self.export_weights()


def train(config: TrainConfig) -> Path:
    """Train (or resume) the run described by ``config``; returns the exported weights' path."""
    return Trainer(config).fit()
