"""The in-the-wild CelebA photos under a user-given data root, split by person into train, val and test.

``<data_root>/celeba_wild/images/*.jpg`` with ``identities.txt`` (``image identity`` per line): 890 unaligned
photos of 178 people. The split is committed (``celeba_split.json``, written once by ``tools/celeba_split.py``):
``train`` may be trained on, ``val`` is for choosing weights and settings, ``test`` is for reporting only - no
person is in two parts, and test people are never trained on or used to choose anything.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from lowface.assets import package_file
from lowface.data.lfw import DatasetMissing

CELEBA_DIR = "celeba_wild"
SPLIT_FILE = Path(__file__).with_name("celeba_split.json")
SHARES = {"train": 0.6, "val": 0.1, "test": 0.3}
SPLIT_SEED = 0


def celeba_identities(data_root: str | Path) -> dict[Path, int]:
    """Every photo's path and identity number."""
    folder = Path(data_root) / CELEBA_DIR
    table = folder / "identities.txt"
    if not table.is_file():
        raise DatasetMissing(f"CelebA in-the-wild photos not found: {table} is missing")
    rows = [line.split() for line in table.read_text().splitlines()[1:] if line.strip()]
    return {folder / "images" / name: int(identity) for name, identity in rows}


def split_people(people: list[int], seed: int = SPLIT_SEED) -> dict[str, list[int]]:
    """Identity numbers -> {"train", "val", "test"}: a seeded permutation of the sorted numbers, cut 60 / 10 / 30 %."""
    ordered = sorted(people)
    order = np.random.default_rng(seed).permutation(len(ordered))
    cuts = np.cumsum([round(SHARES["train"] * len(ordered)), round(SHARES["val"] * len(ordered))])
    parts = np.split(order, cuts)
    return {name: sorted(ordered[i] for i in part) for name, part in zip(SHARES, parts, strict=True)}


@lru_cache(maxsize=1)
def committed_split() -> dict[str, frozenset[int]]:
    record = json.loads(package_file("lowface.data", SPLIT_FILE.name).read_text())
    return {name: frozenset(record[name]) for name in SHARES}


def celeba_split(data_root: str | Path, split: str) -> list[Path]:
    """The photos of one part ("train", "val" or "test") of the committed split, sorted by file name."""
    if split not in SHARES:
        raise ValueError(f"unknown CelebA split {split!r}; use {', '.join(SHARES)}")
    people = committed_split()[split]
    return sorted((p for p, who in celeba_identities(data_root).items() if who in people), key=lambda p: p.name)
