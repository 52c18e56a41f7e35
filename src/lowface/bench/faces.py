"""The LFW pairs protocol of the benchmark: the image set, alignment, embeddings, verification,
identification, detection and landmarks.

Faces are aligned ONCE on the clean image by each judge's own detector (MTCNN for FaceNet, dlib HOG for dlib;
a centred fallback crop where none is found) and that alignment is applied to the dark and enhanced versions,
so recognition figures measure recognition, not detection; detection is measured on its own.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.bench.cache import cached_array
from lowface.data.lfw import LFWPair, lfw_image_path, lfw_pairs
from lowface.data.packing import packed
from lowface.face.pipeline import Alignment, RecognitionPipeline
from lowface.io import as_float, atomic_write_bytes, image_to_tensor, read_image
from lowface.metrics.face import identification_rank1, tar_at_far, verification_accuracy

LANDMARK_TOLERANCE = 0.1  # of the inter-ocular distance


@dataclass
class PairsSet:
    """The images of N consecutive pairs of LFW's pairs.txt (the first N unless ``start``), sorted by
    (name, number), with the protocol."""

    pairs: list[LFWPair]
    keys: list[tuple[str, int]]
    clean: list[np.ndarray] = field(repr=False)
    start: int = 0  # index of the first pair in pairs.txt

    @classmethod
    def load(cls, data_root: Path, count: int, progress: bool = True, start: int = 0) -> PairsSet:
        pairs = lfw_pairs(data_root)[start : start + count]
        keys = sorted({p.first for p in pairs} | {p.second for p in pairs})
        clean = packed(
            (
                read_image(lfw_image_path(data_root, *key)).rgb
                for key in tqdm(keys, desc="reading LFW", unit="img", disable=not progress)
            ),
            len(keys),
        )
        return cls(pairs, keys, clean, start)

    @property
    def protocol(self) -> int | str:
        """Which pairs: N for the first N, "start+N" otherwise - the ``count`` of the enhanced-image cache key."""
        return len(self.pairs) if self.start == 0 else f"{self.start}+{len(self.pairs)}"

    @property
    def tag(self) -> str:
        """A short hash of the image list: part of every cache key."""
        return hashlib.sha256(f"{self.keys}".encode()).hexdigest()[:8]

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """(N images, D) unit embeddings -> (pairs,) cosine similarities."""
        index = {key: i for i, key in enumerate(self.keys)}
        return np.array([float(vectors[index[p.first]] @ vectors[index[p.second]]) for p in self.pairs])

    def folds(self) -> np.ndarray:
        """(pairs,) fold index: LFW's official folds (600 pairs each) when the pairs span two or more, else
        the pairs dealt into 10 folds (within one official fold)."""
        folds = np.array([p.fold for p in self.pairs])
        return folds if len(np.unique(folds)) >= 2 else np.arange(len(self.pairs)) % 10


def cached_alignments(pipeline: RecognitionPipeline, images: PairsSet, cache_dir: Path, progress: bool = True):
    """The judge's alignment of every clean image (computed once, cached as .npz)."""
    key = hashlib.sha256(f"{pipeline.name}{images.keys}".encode()).hexdigest()[:12]
    cache = cache_dir / f"align-{pipeline.name}-{key}.npz"
    if not cache.exists():
        found = [
            pipeline.align(image_to_tensor(im)[0])
            for im in tqdm(images.clean, desc=f"align {pipeline.name}", disable=not progress)
        ]
        buffer = io.BytesIO()
        np.savez(buffer, transforms=np.stack([a.transform for a in found]), detected=[a.detected for a in found])
        atomic_write_bytes(cache, buffer.getvalue())
    with np.load(cache) as stored:
        return [Alignment(t, bool(d)) for t, d in zip(stored["transforms"], stored["detected"], strict=True)]


def embed(pipeline: RecognitionPipeline, images: list[np.ndarray], alignments: list, batch: int = 32) -> np.ndarray:
    """(N,) images (uint8 or float) with their clean-image alignments -> (N, D) unit embeddings."""
    vectors = []
    for start in range(0, len(images), batch):
        chunk = [image_to_tensor(as_float(im))[0] for im in images[start : start + batch]]
        with torch.inference_mode():
            vectors.append(pipeline.embed(torch.stack(chunk), alignments[start : start + batch]).numpy())
    return np.concatenate(vectors)


def cached_embed(pipeline: RecognitionPipeline, images: list, alignments: list, cache: Path) -> np.ndarray:
    """:func:`embed`, cached as .npy at ``cache``."""
    return cached_array(cache, lambda: embed(pipeline, images, alignments))


def verification(images: PairsSet, vectors: np.ndarray) -> dict[str, float]:
    """Accuracy over :meth:`PairsSet.folds` (each fold's threshold from the others), its std over folds, each
    fold's accuracy and TAR@FAR=1e-3."""
    scores, same = images.scores(vectors), np.array([p.same for p in images.pairs])
    result = verification_accuracy(scores, same, images.folds())
    return {
        "accuracy": result.accuracy,
        "std": result.std,
        "folds": result.fold_accuracies,
        "tar_at_far_1e-3": tar_at_far(scores, same, 1e-3),
    }


def paired_gain(row: dict, baseline: dict) -> dict[str, float]:
    """Per-fold accuracy gain of ``row`` over ``baseline`` (two outputs of :func:`verification` on the same
    folds): mean, standard deviation over folds, and how many folds are better / worse."""
    gains = np.asarray(row["folds"]) - np.asarray(baseline["folds"])
    return {
        "mean": float(gains.mean()),
        "std": float(gains.std()),
        "better": int((gains > 0).sum()),
        "worse": int((gains < 0).sum()),
    }


def identification_split(keys: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Gallery / probe indices for closed-set identification: for every identity with two or more images,
    its first image (lowest number) is the gallery entry and the others are probes."""
    by_name: dict[str, list[int]] = {}
    for i, (name, _) in enumerate(keys):
        by_name.setdefault(name, []).append(i)
    several = [idx for idx in by_name.values() if len(idx) >= 2]
    gallery = np.array([idx[0] for idx in several], int)
    probes = np.array([i for idx in several for i in idx[1:]], int)
    return gallery, probes


def identification(images: PairsSet, clean_vectors: np.ndarray, probe_vectors: np.ndarray) -> float:
    """Rank-1 accuracy of (dark or enhanced) probes against a clean gallery (the paper's face-database protocol)."""
    gallery, probes = identification_split(images.keys)
    labels = np.array([name for name, _ in images.keys])
    return identification_rank1(clean_vectors[gallery], labels[gallery], probe_vectors[probes], labels[probes])


def central_detection(detections: list, size: tuple[int, int]):
    """The detection nearest the image centre whose box centre lies within 1/4 of the image size of it
    (LFW's subject is centred; faces in the background do not count), or None."""
    height, width = size
    centre = np.array([width / 2, height / 2])

    def offset(d) -> np.ndarray:
        return (d.box[:2] + d.box[2:]) / 2 - centre

    near = [d for d in detections if np.all(np.abs(offset(d)) < np.array([width, height]) / 4)]
    return min(near, key=lambda d: np.linalg.norm(offset(d))) if near else None


def landmark_error(found, reference) -> float:
    """Mean distance of eye centres and nose (landmarks 0-2) over the reference's inter-ocular distance."""
    ocular = np.linalg.norm(reference.landmarks[0] - reference.landmarks[1])
    return float(np.linalg.norm(found.landmarks[:3] - reference.landmarks[:3], axis=1).mean() / max(ocular, 1e-6))


def detect_central(detector, images: list[np.ndarray], desc: str, progress: bool = True) -> list:
    """The central detection (or None) for each image (uint8 or float (H, W, 3))."""
    out = []
    for image in tqdm(images, desc=desc, unit="img", leave=False, mininterval=5, disable=not progress):
        pixels = as_float(image)
        out.append(central_detection(detector.detect(image_to_tensor(pixels)[0]), pixels.shape[:2]))
    return out


def detection_scores(found: list, references: list) -> dict[str, float | None]:
    """Detection rate, and landmark success: the share of images whose clean version has a central detection
    where the detection on this version puts eyes and nose within 10% of the inter-ocular distance of it."""
    pairs = [(f, r) for f, r in zip(found, references, strict=True) if r is not None]
    landmarks_ok = [f is not None and landmark_error(f, r) < LANDMARK_TOLERANCE for f, r in pairs]
    return {
        "detection_rate": float(np.mean([f is not None for f in found])),
        "landmark_success": float(np.mean(landmarks_ok)) if landmarks_ok else None,
    }
