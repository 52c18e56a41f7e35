"""Training datasets: unpaired low-light crops with normal-light positives and low-light negatives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from lowface.data.synth import darken_linear, plan_linear_darkening
from lowface.io import read_image


class UnpairedLowLightDataset(Dataset):
    """Item i: a darkened crop of image i, a crop of a random other clean image (positive) and of a random
    other darkened image (negative). All (3, crop, crop) float tensors in [0, 1].

    Darkening: Algorithm 1 over the whole set (``ratio_range``, optional ``target_brightness``), seeded, so
    the same seed always gives the same low-light set. Crops and partners are drawn per (epoch, index), so an
    epoch is reproducible and a resumed run sees the same data.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        crop: int = 128,
        ratio_range: tuple[float, float] = (0.1, 0.5),
        target_brightness: float | None = None,
        seed: int = 0,
    ):
        images = [read_image(p).rgb for p in paths]
        plan = plan_linear_darkening(images, ratio_range, target_brightness, min_size=(crop, crop), seed=seed)
        self.clean = [images[i] for i in plan.kept]
        self.dark = [darken_linear(im, r).astype(np.float32) for im, r in zip(self.clean, plan.ratios, strict=True)]
        self.plan, self.crop, self.seed, self.epoch = plan, crop, seed, 0

    def __len__(self) -> int:
        return len(self.clean)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _crop(self, image: np.ndarray, rng: np.random.Generator) -> Tensor:
        h, w = image.shape[:2]
        top, left = rng.integers(0, h - self.crop + 1), rng.integers(0, w - self.crop + 1)
        patch = image[top : top + self.crop, left : left + self.crop]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        n = len(self)
        positive, negative = (int(index + rng.integers(1, n)) % n for _ in range(2))
        return {
            "low": self._crop(self.dark[index], rng),
            "positive": self._crop(self.clean[positive], rng),
            "negative": self._crop(self.dark[negative], rng),
        }
