"""The real-pairs benchmark: real under-exposed captures against the well-exposed frame of the same scene (SICE).

Per method, on every under-exposed frame of the chosen split's scenes (``lowface.data.sice``):
- fidelity to the scene's reference: PSNR, SSIM (as on LFW) and CIEDE2000, raw and after matching the output's
  mean luma to the reference's ("matched": the reference's exposure is a photographer's choice, the structure
  and colour are not);
- faces, per detector: detections on the enhanced dark frame that the reference frame also shows (found, box IoU
  at least ``MATCH_IOU``) and those it does not show (invented). A face tool that invents faces is unsafe.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.bench.cache import cached_row
from lowface.bench.methods import method_images
from lowface.data.packing import packed
from lowface.data.sice import sice_pairs
from lowface.io import as_float, image_to_tensor, read_image, to_uint8
from lowface.metrics.color import ciede2000, match_brightness
from lowface.metrics.fidelity import psnr, ssim

MATCH_IOU = 0.3


@dataclass
class RealPairsSet:
    """The under-exposed frames of one SICE split (float32 (H, W, 3) in [0, 1], as the enhancers take them) with
    their scenes' reference frames (uint8 (H, W, 3), shared between the frames of a scene)."""

    split: str
    names: list[str]
    dark: list[np.ndarray] = field(repr=False)
    references: list[np.ndarray] = field(repr=False)

    @classmethod
    def load(cls, data_root: str | Path, split: str = "test", limit: int | None = None, every: int = 1) -> RealPairsSet:
        """The pairs of ``split`` in scene order (only the first ``limit`` unless None; of those, every ``every``-th:
        a quicker look at a large split, reading only the frames kept)."""
        pairs = sice_pairs(data_root, split)[:limit][::every]
        references: dict[Path, np.ndarray] = {}
        for _, reference in pairs:
            if reference not in references:
                references[reference] = to_uint8(read_image(reference).rgb)
        dark = packed((read_image(d).rgb for d, _ in pairs), len(pairs))
        return cls(split, [f"{d.name}->{r.name}" for d, r in pairs], dark, [references[r] for _, r in pairs])

    @property
    def dataset(self) -> str:
        """The name of this set in the enhanced-image cache: the split and a hash of its pair list."""
        return f"sice-{self.split}-{hashlib.sha256(str(self.names).encode()).hexdigest()[:6]}"


def pair_fidelity(images: list[np.ndarray], references: list[np.ndarray], batch: int = 16) -> dict[str, float]:
    """Mean PSNR, SSIM and CIEDE2000 of (H, W, 3) images against their references, raw and brightness-matched
    (keys ``psnr``, ``ssim``, ``ciede2000`` and the same with ``_matched``)."""
    values: dict[str, list[float]] = {}
    for start in range(0, len(images), batch):
        x = torch.cat([image_to_tensor(as_float(im)) for im in images[start : start + batch]])
        y = torch.cat([image_to_tensor(as_float(im)) for im in references[start : start + batch]])
        for suffix, candidate in (("", x), ("_matched", match_brightness(x, y))):
            for name, metric in (("psnr", psnr), ("ssim", ssim), ("ciede2000", ciede2000)):
                values.setdefault(name + suffix, []).extend(metric(candidate, y).tolist())
    return {name: float(np.mean(v)) for name, v in values.items()}


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matched_faces(found: list[np.ndarray], reference: list[np.ndarray], min_iou: float = MATCH_IOU) -> set[int]:
    """The indices of the boxes of ``found`` that match a distinct box of ``reference`` (greedy by IoU); the others
    are the invented ones."""
    candidates = sorted(
        ((box_iou(f, r), i, j) for i, f in enumerate(found) for j, r in enumerate(reference)), reverse=True
    )
    used_found, used_reference = set(), set()
    for iou, i, j in candidates:
        if iou < min_iou:
            break
        if i not in used_found and j not in used_reference:
            used_found.add(i)
            used_reference.add(j)
    return used_found


def match_faces(found: list[np.ndarray], reference: list[np.ndarray], min_iou: float = MATCH_IOU) -> int:
    """How many boxes of ``found`` match a distinct box of ``reference`` (greedy by IoU)."""
    return len(matched_faces(found, reference, min_iou))


def detect_boxes(detector, images: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Every face box per image (uint8 or float (H, W, 3))."""
    return [[d.box for d in detector.detect(image_to_tensor(as_float(im))[0])] for im in images]


def face_agreement(found: list[list[np.ndarray]], reference: list[list[np.ndarray]]) -> dict[str, int]:
    """Faces on processed dark frames against their reference frames: found (also on the reference),
    invented (not on it), and how many the references show."""
    matched = sum(match_faces(f, r) for f, r in zip(found, reference, strict=True))
    total = sum(len(f) for f in found)
    return {"found": matched, "invented": total - matched, "reference_faces": sum(len(r) for r in reference)}


def sice_record(config, detectors: dict, methods: list) -> tuple[dict, dict]:
    """Every method on the real pairs of ``config.sice_split``: ({"split", "frames", "scenes"}, rows by method
    label: fidelity raw and brightness-matched, faces found and invented per detector); rows cached."""
    pairs = RealPairsSet.load(config.data_root, config.sice_split, config.sice_limit)
    progress = config.progress
    reference_faces = {name: detect_boxes(detector, pairs.references) for name, detector in detectors.items()}
    rows: dict = {}
    for method in tqdm(methods, desc=f"SICE {pairs.split}", unit="method", disable=not progress):
        if method.name == "clean":  # the references themselves: nothing to compare
            continue
        images, seconds, source = method_images(
            method, pairs.dataset, None, pairs.dark, len(pairs.dark), config.cache_dir, progress
        )

        def compute(images=images, seconds=seconds) -> dict:
            row = {"seconds_per_image": seconds, **pair_fidelity(images, pairs.references)}
            row["detectors"] = {
                name: face_agreement(detect_boxes(detector, images), reference_faces[name])
                for name, detector in detectors.items()
            }
            return row

        key = hashlib.sha256(f"{source}{pairs.names}{config.detectors}".encode()).hexdigest()[:10]
        rows[method.label] = cached_row(config.cache_dir / f"pairs-{source}-{key}.json", compute)
    scenes = len({name.split("->")[1] for name in pairs.names})
    about = {"split": pairs.split, "frames": len(pairs.dark), "scenes": scenes}
    return about, rows
