"""Unpaired training of an enhancer with Low-FaceNet's objective (or a zero-reference competitor's);
resumable at any point.

The run folder holds ``config.yaml``, ``checkpoint.pt`` (model + optimizer + step, written atomically),
``log.jsonl`` (every loss term), the caches of parsing labels and face alignments, with ``snapshot_every`` the
weights every so many steps under ``snapshots/`` (the last is not always the best: choose on a validation split),
and at the end ``model.safetensors``.

Data parallel: launched by ``torchrun --nproc_per_node N -m lowface.cli train ...``, every process takes
its share of each global batch of ``batch_size`` images and DistributedDataParallel averages the gradients
(gloo on CPU, nccl on CUDA). Every loss is a per-image mean, so N processes give the one-process result on
the same global batch. Rank 0 alone writes the run folder.

The module runs past 300 lines because the loop, its resume-exact data order, its distributed set-up and what it
trains or holds frozen read the same config and run state: split apart, each piece would take the whole trainer.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from lowface.backbones import create_feature_extractor
from lowface.data.datasets import MixedDataset, RealPairsDataset, UnpairedLowLightDataset
from lowface.data.sice import sice_pairs
from lowface.inference.devices import pick_device
from lowface.losses.face_identity import FaceIdentityLoss
from lowface.losses.objective import FEATURE_TERMS
from lowface.losses.weighted import ObjectiveParts
from lowface.registry import OBJECTIVES
from lowface.train.checkpoints import (
    build_model,
    export_weights,
    load_checkpoint,
    load_initial_weights,
    record_config,
    save_checkpoint,
)
from lowface.train.config import TrainConfig
from lowface.train.distributed import (
    all_processes,
    any_process,
    init_distributed,
    mean_over_processes,
    process_group,
    rank0_first,
)
from lowface.train.face_targets import face_targets, parsing_labels, training_faces

MAX_CONSECUTIVE_BAD_STEPS = 20


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Owns the model, the objective, the optimizer and the run folder."""

    def __init__(self, config: TrainConfig, dataset: Dataset | None = None):
        self.config = config
        if config.threads:
            torch.set_num_threads(config.threads)
        self.rank, self.world = init_distributed()
        if config.batch_size % self.world:
            raise ValueError(f"batch_size {config.batch_size} is not divisible by {self.world} processes")
        self.device = pick_device(config.device)
        if self.device.type == "cuda" and self.world > 1:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        seed_everything(config.seed)
        self.out_dir = Path(config.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.model = build_model(config.model)
        if config.init_from:
            load_initial_weights(self.model, config.init_from)
        self.model.to(self.device)
        faces_needed = dataset is None and config.sice_share < 1
        paths, names = training_faces(config.data_root, config.face_sets) if faces_needed else (None, None)
        labels, faces, face_loss = self._face_data(paths, names)
        self.objective = self._objective(face_loss)
        self.optimizer = self._optimizer()
        self.held_ranges = self._held_ranges()
        self.dataset = dataset or self._dataset(paths, labels, faces)
        self.step_batches = StepBatches(self.dataset, config.batch_size, config.seed, self.rank, self.world)
        self.step = 0
        self.train_seconds = 0.0  # wall time spent training, summed over resumed sessions
        self.checkpoint_path = self.out_dir / "checkpoint.pt"
        if self.checkpoint_path.exists():
            self.step, self.train_seconds = load_checkpoint(self.checkpoint_path, self.model, self.optimizer,
                                                            self.device)  # fmt: skip
        if self.rank == 0:
            record_config(self.out_dir, self.config.to_dict(), self.step)
        self.network = DistributedDataParallel(self.model) if self.world > 1 else self.model

    def _face_data(self, paths: list[Path] | None, names: list[str] | None) -> tuple[Any, Any, FaceIdentityLoss | None]:
        """(parsing labels, face alignments, face identity loss) of the training faces (``names``: their
        identities), each None when no weighted term needs it; computed once into the cache folder (rank 0 first)."""
        config, weights = self.config, self.config.loss_weights
        labels, faces, face_loss = None, None, None
        cache_dir = Path(config.cache_dir) if config.cache_dir else self.out_dir
        cache_dir.mkdir(parents=True, exist_ok=True)
        if paths is not None and weights.get("semantic", 0):
            labels = rank0_first(self.rank, self.world, lambda: parsing_labels(paths, cache_dir))
        if paths is not None and weights.get("face", 0):
            prepared = rank0_first(
                self.rank, self.world, lambda: face_targets(paths, config.recognizer, cache_dir, names=names)
            )
            faces, database, recognizer = prepared
            face_loss = FaceIdentityLoss(recognizer, database, faces.chip_size, config.face_scale)
            face_loss.database.to(self.device)
        return labels, faces, face_loss

    def _objective(self, face_loss: FaceIdentityLoss | None) -> nn.Module:
        """The registered objective named in the config (``lowface.registry.OBJECTIVES``), on the device."""
        config, weights = self.config, self.config.loss_weights
        needs_features = any(weights.get(term, 0) for term in FEATURE_TERMS)
        features = create_feature_extractor(config.features, config.features_weights) if needs_features else None
        parts = ObjectiveParts(self.model, features, face_loss, config.distance, config.use_negatives,
                               config.lacr_model, self._frozen, config.teacher)  # fmt: skip
        return OBJECTIVES.get(config.objective).build(weights, parts).to(self.device)

    def _optimizer(self) -> torch.optim.Optimizer:
        """Adam over the parameters ``train_only`` selects (all by default); the others are frozen."""
        trainable = [p for name, p in self.model.named_parameters() if self._trains(name)]
        if not trainable:
            raise ValueError(f"train_only {self.config.train_only} matches no parameter of {self.config.model['type']}")
        for name, parameter in self.model.named_parameters():
            parameter.requires_grad_(self._trains(name))
        return torch.optim.Adam(trainable, lr=self.config.lr, weight_decay=self.config.weight_decay)

    def _dataset(self, paths, labels, faces) -> Dataset:
        """LFW's training faces, SICE's training scenes, or both mixed by ``sice_share``."""
        config = self.config
        real = None
        if config.sice_share > 0:
            pairs = sice_pairs(config.data_root, "train", config.sice_frames)
            real = RealPairsDataset(pairs, config.crop, config.seed, labels is not None, faces is not None,
                                    config.sice_exposure == "matched", config.sice_lights)  # fmt: skip
            if paths is None:
                return real
        faces_dataset = UnpairedLowLightDataset(
            paths,
            config.crop,
            config.ratio_range,
            config.target_brightness,
            config.seed,
            synthesis=config.synthesis,
            labels=labels,
            faces=faces,
            zoom=config.face_zoom,
        )
        return faces_dataset if real is None else MixedDataset(faces_dataset, real, config.sice_share)

    def _frozen(self, spec: str) -> nn.Module:
        """A catalogued model (e.g. the shipped LACR-VAE), or ``"name:weights.safetensors"`` (e.g. an earlier version
        of a shipped network, so that a distillation config outlives the next release), frozen on the training
        device."""
        from lowface.inference.catalogue import create_model, split_model_spec

        return create_model(*split_model_spec(spec)).eval().requires_grad_(False).to(self.device)

    def _held_ranges(self) -> list[nn.Module]:
        """The ``quantisers`` of each frozen part (no parameter left trainable by :meth:`_optimizer`) that rounds as
        the int8 runtime does: it still rounds in training, on its calibrated ranges as loaded (left to track the
        training crops, an estimator's first range went 0.36 -> 0.52)."""
        return [module.quantisers for module in self.model.modules()
                if getattr(module, "quantisers", None) is not None
                and not any(p.requires_grad for p in module.parameters())]  # fmt: skip

    def _trains(self, parameter_name: str) -> bool:
        prefixes = self.config.train_only
        return prefixes is None or any(parameter_name.startswith(p + ".") for p in prefixes)

    def save_checkpoint(self) -> None:
        if self.rank == 0:
            save_checkpoint(self.checkpoint_path, self.model, self.optimizer, self.step, self.train_seconds)

    def export_weights(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path is not None else self.out_dir / "model.safetensors"
        if self.rank == 0:
            export_weights(path, self.model, self.step, self.train_seconds, self.config.model)
        return path

    def _out_of_time(self, start: float) -> bool:
        return any_process(time.monotonic() - start > 60 * self.config.max_minutes, self.world)  # stop together

    # -- data order -------------------------------------------------------------------------------------

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """This process's share of the global batch at ``step``, on the training device."""
        return {key: value.to(self.device) for key, value in self.step_batches[step].items()}

    def batches(self) -> Any:
        """The batches from the current step on, each on the training device. With ``workers`` they are made
        ahead in background processes; a batch depends on its step alone, so the data are the same either way."""
        if not self.config.workers:
            return (self.batch(step) for step in range(self.step, self.config.steps))
        loader = DataLoader(
            self.step_batches,
            batch_size=None,
            sampler=range(self.step, self.config.steps),
            num_workers=self.config.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4,
        )
        return ({key: value.to(self.device, non_blocking=True) for key, value in b.items()} for b in loader)

    # -- the loop ---------------------------------------------------------------------------------------

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]] | None:
        """One optimisation step; returns None (and changes nothing) when the loss is not finite."""
        self.model.train()
        for ranges in self.held_ranges:
            ranges.eval()
        output = self.network(self.objective.inputs(batch))
        loss, terms = self.objective(output, batch)
        if not all_processes(bool(torch.isfinite(loss)), self.world, self.device):  # all skip the same steps
            self.optimizer.zero_grad(set_to_none=True)
            return None
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        if self.world > 1:  # log the whole batch's terms
            values = mean_over_processes(torch.stack([loss.detach(), *terms.values()]), self.world)
            loss, terms = values[0], dict(zip(terms, values[1:], strict=True))
        return loss.item(), {k: v.item() for k, v in terms.items()}

    def fit(self) -> Path:
        """Train until ``steps`` (or ``max_minutes``) and return the exported weights' path."""
        config, start, bad = self.config, time.monotonic(), 0
        already = self.train_seconds
        progress = tqdm(
            total=config.steps,
            initial=self.step,
            desc=f"train {config.model['type']}",
            unit="step",
            disable=self.rank != 0,
        )
        log_path = self.out_dir / "log.jsonl" if self.rank == 0 else os.devnull
        with open(log_path, "a") as log:
            for batch in self.batches():
                result = self.train_step(batch)
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
                if config.snapshot_every and self.step % config.snapshot_every == 0:
                    self.export_weights(self.out_dir / "snapshots" / f"step-{self.step}.safetensors")
                if config.max_minutes is not None and self._out_of_time(start):
                    break
        progress.close()
        self.save_checkpoint()
        return self.export_weights()


class StepBatches(Dataset):
    """Item ``step``: one process's share of the global batch at that step, stacked on the CPU.

    The global batch is a slice of a seeded permutation per epoch, so it depends on the step alone: a resumed
    run, or DataLoader workers preparing batches ahead, see exactly the same data.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.dataset, self.batch_size, self.seed, self.rank, self.world = dataset, batch_size, seed, rank, world

    def __len__(self) -> int:
        return 2**62  # any step; the trainer's sampler says which

    def indices(self, step: int) -> list[int]:
        per_epoch = max(len(self.dataset) // self.batch_size, 1)
        epoch, offset = divmod(step, per_epoch)
        order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.seed + epoch))
        self.dataset.set_epoch(epoch)
        return order[offset * self.batch_size : (offset + 1) * self.batch_size].tolist()

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        items = [self.dataset[i] for i in self.indices(step)[self.rank :: self.world]]
        return {key: torch.stack([item[key] for item in items]) for key in items[0]}


def train(config: TrainConfig) -> Path:
    """Train (or resume) the run described by ``config``; returns the exported weights' path (see
    :func:`lowface.train.distributed.process_group` for the end of a data-parallel run)."""
    with process_group():
        return Trainer(config).fit()
