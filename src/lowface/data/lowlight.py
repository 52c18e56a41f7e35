"""The real low-light photos under a user-given data root (no reference images: no-reference metrics only)."""

from __future__ import annotations

from pathlib import Path

LOWLIGHT_DIR = "lowlight_real"
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})


def real_lowlight_photos(data_root: str | Path, limit: int | None = None) -> list[Path]:
    """Every photo below ``<data_root>/lowlight_real`` (recursively, sorted); only the first ``limit`` unless None."""
    folder = Path(data_root) / LOWLIGHT_DIR
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    return paths[:limit]
