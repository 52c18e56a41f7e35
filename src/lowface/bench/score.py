"""``lowface score``: the benchmark's metrics on a user's own folder, per file and summarised.

Per image: NIQE (images whose shorter side is at least 192 pixels) and BRISQUE (lower is better); LOE against the
image's original (``originals``: the folder that was enhanced; lower is better); with ``references``, PSNR,
SSIM and CIEDE2000 against the reference of the same relative path, raw and brightness-matched (as ``lowface
bench`` scores SICE's real pairs); and per face detector the faces found - with references, also how many of them
the reference shows (IoU >= 0.3) and how many are invented. The same functions as the bench compute each number,
so a folder of the bench's images scores what the bench reports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lowface.bench.real_pairs import match_faces
from lowface.bench.rows import NIQE_MIN_SIDE, finite_mean
from lowface.io import IMAGE_SUFFIXES, ImageReadError, as_float, image_to_tensor, read_image, to_uint8
from lowface.metrics.brisque import brisque
from lowface.metrics.catalogue import create_metric
from lowface.metrics.color import ciede2000, match_brightness
from lowface.metrics.fidelity import psnr, ssim
from lowface.metrics.lightness import loe
from lowface.metrics.niqe import niqe
from lowface.registry import METRICS


def direction_hint(key: str) -> str:
    """ "  (lower is better)" or "  (higher is better)" for a summary key naming a registered metric (with or
    without a "_matched" suffix), "" for other keys (counts, faces per detector)."""
    name = key.removesuffix("_matched")
    if name not in METRICS:
        return ""
    return "  (lower is better)" if create_metric(name).lower_is_better else "  (higher is better)"


def image_files(folder: Path) -> list[Path]:
    """Images under ``folder`` (recursively, not hidden below it), sorted; ``folder`` itself may be anywhere, e.g.
    ``../data``."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def counterpart(folder: Path, relative: Path) -> Path | None:
    """The file of ``folder`` with the same relative path, any image suffix (photo.png <-> photo.jpg)."""
    exact = folder / relative
    if exact.is_file():
        return exact
    matches = [p for p in sorted(exact.parent.glob(exact.stem + ".*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    return matches[0] if matches else None


def eight_bit(rgb: np.ndarray) -> np.ndarray:
    """Float RGB -> the 8-bit image the bench scores (its enhanced images are stored as uint8)."""
    return as_float(to_uint8(rgb))


def score_image(
    image: np.ndarray, original: np.ndarray | None, reference: np.ndarray | None, detectors: dict[str, Any],
    reference_boxes: dict[str, list] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Every metric of one (H, W, 3) float image in [0, 1]; ``original`` / ``reference`` of the same size or None.
    A metric the image does not allow is None: NIQE below 192 pixels or without texture, BRISQUE without texture."""
    row: dict[str, Any] = {"niqe": niqe(image) if min(image.shape[:2]) >= NIQE_MIN_SIDE else None}
    row["brisque"] = brisque(image)
    row |= {key: None for key in ("niqe", "brisque") if row[key] is not None and math.isnan(row[key])}  # no texture
    row["loe"] = loe(original, image) if original is not None else None
    if reference is not None:
        x, y = image_to_tensor(image), image_to_tensor(reference)
        for suffix, candidate in (("", x), ("_matched", match_brightness(x, y))):
            for name, metric in (("psnr", psnr), ("ssim", ssim), ("ciede2000", ciede2000)):
                row[name + suffix] = float(metric(candidate, y)[0])
    for name, detector in detectors.items():
        boxes = [d.box for d in detector.detect(image_to_tensor(image)[0])]
        row[f"faces_{name}"] = len(boxes)
        if reference_boxes is not None:
            found = match_faces(boxes, reference_boxes[name])
            row[f"found_{name}"], row[f"invented_{name}"] = found, len(boxes) - found
            row[f"reference_faces_{name}"] = len(reference_boxes[name])
    return row


def _same_size(path: Path, other: Path, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ImageReadError(path, f"is {a.shape[1]}x{a.shape[0]} but {other} is {b.shape[1]}x{b.shape[0]}")


def score_folder(
    folder: Path,
    references: Path | None = None,
    originals: Path | None = None,
    detectors: Iterable[str] = ("mtcnn", "hog", "blazeface"),
    progress: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """(one row per image, the summary, problems). Rows carry ``file`` (relative to ``folder``); the summary
    has each metric's mean over the images that have it and each face count's total (bench semantics:
    ``images_with_faces_<detector>`` as well). A file that cannot be read or has no counterpart is a problem,
    not a stop."""
    from lowface.face.detect import create_detector

    networks = {name: create_detector(name) for name in detectors}
    files = image_files(folder)
    if not files:
        raise ValueError(f"{folder}: no images found ({' '.join(sorted(IMAGE_SUFFIXES))})")
    rows, problems = [], []
    for path in tqdm(files, desc="score", unit="img", disable=not progress):
        relative = path.relative_to(folder)
        try:
            image = eight_bit(read_image(path).rgb)
            original = reference = boxes = None
            for kind, root in (("original", originals), ("reference", references)):
                if root is None:
                    continue
                match = counterpart(root, relative)
                if match is None:
                    raise ImageReadError(path, f"no {kind} for it in {root}")
                other = eight_bit(read_image(match).rgb)
                _same_size(path, match, image, other)
                if kind == "original":
                    original = other
                else:
                    reference = other
                    with torch.inference_mode():
                        boxes = {n: [d.box for d in d_.detect(image_to_tensor(other)[0])] for n, d_ in networks.items()}
            with torch.inference_mode():
                rows.append({"file": str(relative), **score_image(image, original, reference, networks, boxes)})
        except (ImageReadError, ValueError) as exc:
            problems.append(str(exc))
    return rows, summarise(rows, list(networks)), problems


def summarise(rows: list[dict[str, Any]], detectors: list[str]) -> dict[str, Any]:
    """Means of the metrics (over the rows that have them: NIQE and BRISQUE are NaN on an image without texture),
    totals of the face counts."""
    summary: dict[str, Any] = {"images": len(rows)}
    keys = [k for k in (rows[0] if rows else {}) if k != "file"]
    for key in keys:
        values = [row[key] for row in rows if row.get(key) is not None]
        if key.split("_")[0] in ("faces", "found", "invented", "reference"):
            summary[key] = int(sum(values))
        else:
            summary[key] = finite_mean(values)
    for name in detectors:
        summary[f"images_with_faces_{name}"] = int(sum(1 for row in rows if row[f"faces_{name}"]))
    return summary


def format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)
