"""Faces in the wild: closed-set identification and false matches on the CelebA test people, end to end.

Protocol (``lowface.data.celeba``'s committed split; test people only, never trained on or used to choose
anything): gallery = each person's first photo (by file name), clean; probes = the other photos darkened by a
synthesis preset (seed 0), then processed by a method (the raw model, no exposure gate). Per judge:
- end to end: the face is found on the processed probe by the judge's own detector (the most central one); a
  probe where none is found counts as a miss; oracle: aligned as on its clean photo, so only recognition counts;
- rank-1 against the clean gallery, and recovery = (method - none) / (clean - none);
- false matches: the thresholds that give FAR 1e-3 and 1e-2 on CLEAN impostor pairs (every two clean photos of
  different people), then for processed probes against the gallery: the false-accept rate at those thresholds,
  the true-accept rate of the probe's own gallery photo, and the shift of the mean impostor similarity from the
  clean probes'. Enhancement that makes different people look alike shows as a FAR above the dark input's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch

from lowface.bench.cache import cached_array, cached_row
from lowface.bench.methods import MethodSpec, method_images
from lowface.data.celeba import celeba_identities, celeba_split
from lowface.data.synth import synthesize_float32
from lowface.face.pipeline import RecognitionPipeline
from lowface.io import as_float, image_to_tensor, read_image

FARS = (1e-3, 1e-2)
# Face widths (MTCNN box on the clean photo, pixels) that split the probes into small / medium / large faces. LFW's
# 250x250 crops, where all face training began, hold faces about 93 px wide by this measure.
SIZE_EDGES = (64.0, 96.0)
SIZE_NAMES = ("small", "medium", "large")


@dataclass
class WildSet:
    """The CelebA test photos (optionally the first ``limit`` people), their identities, gallery and probes."""

    paths: list[Path]
    labels: np.ndarray
    clean: list[np.ndarray] = field(repr=False)
    gallery: list[int]
    probes: list[int]

    @classmethod
    def load(cls, data_root: Path, limit: int | None = None) -> WildSet:
        people = celeba_identities(data_root)
        paths = celeba_split(data_root, "test")
        if limit is not None:
            keep = sorted({people[p] for p in paths})[:limit]
            paths = [p for p in paths if people[p] in keep]
        gallery, probes = gallery_and_probes(paths, people)
        labels = np.array([people[p] for p in paths])
        return cls(paths, labels, [read_image(p).rgb for p in paths], gallery, probes)

    @property
    def probe_clean(self) -> list[np.ndarray]:
        return [self.clean[i] for i in self.probes]


def gallery_and_probes(paths: list[Path], people: dict[Path, int]) -> tuple[list[int], list[int]]:
    """Indices: each person's first photo (paths sorted by name) as gallery, the rest as probes."""
    seen, gallery, probes = set(), [], []
    for i, path in enumerate(paths):
        (probes if people[path] in seen else gallery).append(i)
        seen.add(people[path])
    return gallery, probes


def embed_all(pipeline: RecognitionPipeline, images: list[np.ndarray],
              aligned_on: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(N, D) unit embeddings and (N,) whether a face was found; faces looked for on ``aligned_on`` (default:
    the images themselves). Images are (H, W, 3) float in [0, 1] or uint8 (the benchmark's cached outputs)."""
    vectors, found = [], []
    for i, image in enumerate(images):
        with torch.inference_mode():
            alignment = pipeline.align(image_to_tensor(as_float((aligned_on or images)[i]))[0])
            vectors.append(pipeline.embed(image_to_tensor(as_float(image)), [alignment])[0].numpy())
        found.append(alignment.detected)
    return np.stack(vectors), np.array(found)


def identity_similarity(pipeline: RecognitionPipeline, images: list[np.ndarray], clean: list[np.ndarray],
                        clean_vectors: np.ndarray) -> float:  # fmt: skip
    """Mean cosine similarity between each of ``images`` (aligned as on its ``clean`` photo) and that photo's unit
    embedding (``clean_vectors``, (N, D) from :func:`embed_all`): how much identity an enhancer kept."""
    vectors = embed_all(pipeline, images, aligned_on=clean)[0]
    return float(np.mean(np.sum(vectors * clean_vectors, axis=1)))


def face_widths(images: list[np.ndarray]) -> np.ndarray:
    """(N,) width in pixels of the most central face MTCNN finds on each (H, W, 3) image (NaN where none)."""
    from lowface.face.detect import create_detector, most_central

    detector, widths = create_detector("mtcnn"), []
    for image in images:
        best = most_central(detector.detect(image_to_tensor(as_float(image))[0]), *image.shape[:2])
        widths.append(float(best.box[2] - best.box[0]) if best is not None else np.nan)
    return np.array(widths)


def size_bins(widths: np.ndarray, edges: tuple[float, ...] = SIZE_EDGES) -> np.ndarray:
    """(N,) bin of each face width: 0 below ``edges[0]``, ..., len(edges) above the last; -1 where unknown (NaN)."""
    return np.where(np.isnan(widths), -1, np.digitize(np.nan_to_num(widths), edges))


def threshold_at(impostor_scores: np.ndarray, far: float) -> float:
    """The similarity above which a fraction ``far`` of the impostor pairs lies."""
    return float(np.quantile(impostor_scores, 1 - far))


def clean_thresholds(vectors: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """{"0.001": t, "0.01": t}: thresholds giving those FARs on every pair of clean photos of different people."""
    scores = vectors @ vectors.T
    different = (labels[:, None] != labels[None, :]) & np.triu(np.ones_like(scores, bool), 1)
    return {f"{far:g}": threshold_at(scores[different], far) for far in FARS}


def score_probes(vectors: np.ndarray, found: np.ndarray, gallery_vectors: np.ndarray, gallery_labels: np.ndarray,
                 probe_labels: np.ndarray, thresholds: dict[str, float], bins: np.ndarray | None = None,
                 clean_probe_vectors: np.ndarray | None = None) -> dict[str, float]:  # fmt: skip
    """Rank-1 (a probe whose face was not found is a miss), share of faces found, mean impostor similarity, and
    FAR / TAR at each threshold; with ``bins`` (N,) (:func:`size_bins`), also rank-1 of each face size
    ("rank1_small", ...; NaN for an empty bin); with ``clean_probe_vectors`` (N, D), the probes' clean photos'
    embeddings, also the new false accepts at each threshold ("new_far_at_..."): impostor pairs accepted for the
    processed probe but not for its clean photo - false matches the processing made, not the recognizer's own
    (a dark probe accepts fewer pairs than its clean photo: darkness lowers every similarity, so an enhancer that
    brings the clean photo's false matches back raises the plain FAR above the dark input's)."""
    similarity = vectors @ gallery_vectors.T
    identified = (gallery_labels[similarity.argmax(1)] == probe_labels) & found
    rank1 = float(np.mean(identified))
    own = similarity[np.arange(len(vectors)), [list(gallery_labels).index(x) for x in probe_labels]]
    impostor = probe_labels[:, None] != gallery_labels[None, :]
    other = similarity[impostor]
    clean_other = (clean_probe_vectors @ gallery_vectors.T)[impostor] if clean_probe_vectors is not None else None
    row = {"rank1": rank1, "found": float(found.mean()), "impostor_mean": float(other.mean())}
    for far, threshold in thresholds.items():
        row[f"far_at_{far}"] = float((other > threshold).mean())
        row[f"tar_at_{far}"] = float(((own > threshold) & found).mean())
        if clean_other is not None:
            row[f"new_far_at_{far}"] = float(((other > threshold) & (clean_other <= threshold)).mean())
    if bins is not None:
        for index, name in enumerate(SIZE_NAMES):
            row[f"rank1_{name}"] = float(identified[bins == index].mean()) if (bins == index).any() else float("nan")
    return row


def add_wild_recovery(rows: dict[str, dict], judges: list[str]) -> None:
    """Per judge: recovery = (method - none) / (clean - none) rank-1, where darkness costs something, and the
    shift of the mean impostor similarity from the clean probes'."""
    if "none" not in rows or "clean" not in rows:
        return
    for judge in judges:
        clean = rows["clean"]["judges"][judge]
        low, high = rows["none"]["judges"][judge]["rank1"], clean["rank1"]
        for row in rows.values():
            gap, result = high - low, row["judges"][judge]
            result["recovery"] = (result["rank1"] - low) / gap if gap > 0 else None
            result["impostor_shift"] = result["impostor_mean"] - clean["impostor_mean"]


def wild_record(config, judges: dict[str, RecognitionPipeline], methods: list[MethodSpec]) -> dict:
    """The in-the-wild part of a ``lowface bench`` record: {"about": people, gallery, probes and each judge's clean
    thresholds; "presets": {preset: {method label: {"judges": {judge: row}}}}}. Clean embeddings, enhanced images
    and rows are cached under ``config.cache_dir``."""
    wild = WildSet.load(config.data_root, config.wild_limit)
    labels, gallery, probes = wild.labels, wild.gallery, wild.probes
    tag = hashlib.sha256(f"{[p.name for p in wild.paths]}".encode()).hexdigest()[:10]
    about: dict = {"people": len(set(labels.tolist())), "gallery": len(gallery), "probes": len(probes),
                   "thresholds": {}}  # fmt: skip
    clean_vectors = {}
    for judge, pipeline in judges.items():
        path = config.cache_dir / f"wild-clean-{judge}-{tag}.npy"
        vectors = cached_array(path, lambda pipeline=pipeline: embed_all(pipeline, wild.clean)[0])
        clean_vectors[judge] = vectors
        about["thresholds"][judge] = clean_thresholds(vectors, labels)
    presets: dict = {}
    for preset in config.presets:
        dark = synthesize_float32(wild.probe_clean, preset, seed=0)
        rows: dict = {}
        for method in methods:
            images, _, source = method_images(
                method, f"wild-{preset}", wild.probe_clean, dark, f"wild{len(probes)}", config.cache_dir,
                config.progress,
            )  # fmt: skip

            def compute(images=images) -> dict:
                out = {}
                for judge, pipeline in judges.items():
                    score = partial(score_probes, gallery_vectors=clean_vectors[judge][gallery],
                                    gallery_labels=labels[gallery], probe_labels=labels[probes],
                                    thresholds=about["thresholds"][judge],
                                    clean_probe_vectors=clean_vectors[judge][probes])  # fmt: skip
                    out[judge] = score(*embed_all(pipeline, images))
                    out[judge]["rank1_oracle"] = score(*embed_all(pipeline, images, wild.probe_clean))["rank1"]
                return {"judges": out}

            # "rows2": rows with the new false accepts (new_far_at_*); older cached rows lack them
            rows[method.label] = cached_row(config.cache_dir / f"wild-rows2-{source}-{tag}.json", compute)
        add_wild_recovery(rows, list(judges))
        presets[preset] = rows
    return {"about": about, "presets": presets}
