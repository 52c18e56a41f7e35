"""The in-the-wild CelebA photos under a user-given data root, split by identity into validation and test.

``<data_root>/celeba_wild/images/*.jpg`` with ``identities.txt`` (``image identity`` per line): 890 unaligned
photos of 178 people. The split is by person (seeded, fixed): ``val`` (20 % of the identities) is for choosing
weights and settings, ``test`` (the rest) for reporting only - no person is in both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowface.data.lfw import DatasetMissing

CELEBA_DIR = "celeba_wild"
VAL_SHARE = 0.2
SPLIT_SEED = 0


def celeba_identities(data_root: str | Path) -> dict[Path, int]:
    """Every photo's path and identity number."""
    folder = Path(data_root) / CELEBA_DIR
    table = folder / "identities.txt"
    if not table.is_file():
        raise DatasetMissing(f"CelebA in-the-wild photos not found: {table} is missing")
    rows = [line.split() for line in table.read_text().splitlines()[1:] if line.strip()]
    return {folder / "images" / name: int(identity) for name, identity in rows}


def celeba_split(data_root: str | Path, split: str) -> list[Path]:
    """The photos of one split ("val" or "test"), sorted by file name."""
    if split not in ("val", "test"):
        raise ValueError(f"unknown CelebA split {split!r}; use val or test")
    identities = celeba_identities(data_root)
    people = sorted(set(identities.values()))
    order = np.random.default_rng(SPLIT_SEED).permutation(len(people))
    val = {people[i] for i in order[: round(VAL_SHARE * len(people))]}
    return sorted((p for p, who in identities.items() if (who in val) == (split == "val")), key=lambda p: p.name)
