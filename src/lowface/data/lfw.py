"""LFW file lists (deep-funneled release) under a user-given data root, and the official pairs protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LFW_DIR = "lfw-deepfunneled"


class DatasetMissing(FileNotFoundError):
    """A dataset is not where it was looked for; the message says where to get it."""


def lfw_root(data_root: str | Path) -> Path:
    root = Path(data_root) / "lfw"
    if not (root / LFW_DIR).is_dir():
        raise DatasetMissing(
            f"LFW not found under {root} (expected {root / LFW_DIR}); get the deep-funneled LFW release and "
            "pairs.txt from the UMass LFW page and place them there"
        )
    return root


def lfw_train_images(data_root: str | Path) -> list[Path]:
    """The 1,549 training images (identities disjoint from pairs.txt), from train_images.txt."""
    root = lfw_root(data_root)
    return [root / line.strip() for line in (root / "train_images.txt").read_text().splitlines() if line.strip()]


def lfw_image_path(data_root: str | Path, name: str, number: int) -> Path:
    return lfw_root(data_root) / LFW_DIR / name / f"{name}_{number:04d}.jpg"


@dataclass(frozen=True)
class LFWPair:
    fold: int
    first: tuple[str, int]
    second: tuple[str, int]
    same: bool


def lfw_pairs(data_root: str | Path) -> list[LFWPair]:
    """The 6,000 View-2 pairs of pairs.txt (10 folds x 300 same + 300 different), in file order."""
    lines = (lfw_root(data_root) / "pairs.txt").read_text().splitlines()
    folds, per_fold = (int(v) for v in lines[0].split())
    pairs = []
    for index, line in enumerate(lines[1:]):
        parts = line.split()
        fold = index // (2 * per_fold)
        if len(parts) == 3:
            pairs.append(LFWPair(fold, (parts[0], int(parts[1])), (parts[0], int(parts[2])), True))
        elif len(parts) == 4:
            pairs.append(LFWPair(fold, (parts[0], int(parts[1])), (parts[2], int(parts[3])), False))
    if len(pairs) != folds * 2 * per_fold:
        raise ValueError(f"pairs.txt: expected {folds * 2 * per_fold} pairs, found {len(pairs)}")
    return pairs
