"""What the semantic and face modules need about the training images, computed once on the clean images and
cached in the run folder: parsing labels, the recognizer's alignment of every face, and the face database
of training identities (paper: built from normal-light images)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.data.datasets import FaceTargets
from lowface.face.database import FaceDatabase
from lowface.io import atomic_write_bytes, read_image


def identity_of(path: str | Path) -> str:
    """LFW layout: the identity is the name of the image's folder."""
    return Path(path).parent.name


def _key(paths: Sequence[str | Path], *extra: str) -> str:
    return hashlib.sha256("\n".join([*map(str, paths), *extra]).encode()).hexdigest()[:16]


def parsing_labels(paths: Sequence[str | Path], cache_dir: Path) -> list[np.ndarray | None]:
    """LaPa labels (H, W) uint8 of each clean image (None where no face was found), cached."""
    cache = cache_dir / f"parsing-{_key(paths)}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as stored:
            return [stored[str(i)] if stored[str(i)].size else None for i in range(len(paths))]
    from lowface.face.parsing import FaceParser

    parser, labels = FaceParser(), []
    for path in tqdm(paths, desc="parsing faces", unit="img"):
        labels.append(parser.parse((read_image(path).rgb * 255).round().astype(np.uint8)))
    parser.close()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{str(i): lab if lab is not None else np.zeros(0, np.uint8)
                                   for i, lab in enumerate(labels)})  # fmt: skip
    atomic_write_bytes(cache, buffer.getvalue())
    return labels


def face_targets(
    paths: Sequence[str | Path], recognizer: str, cache_dir: Path, batch_size: int = 16
) -> tuple[FaceTargets, FaceDatabase, torch.nn.Module]:
    """Align every clean training face with ``recognizer``'s detector, embed it, and build the face database
    (one entry per identity: the normalised mean of its images' embeddings). Returns the per-image targets,
    the database and the frozen recognizer network."""
    from lowface.face.pipeline import RecognitionPipeline

    pipeline = RecognitionPipeline(recognizer).eval()
    cache = cache_dir / f"faces-{recognizer}-{_key(paths)}.pt"
    if cache.exists():
        stored = torch.load(cache, map_location="cpu", weights_only=True)
        transforms, detected, embeddings = stored["transforms"], stored["detected"], stored["embeddings"]
    else:
        transforms, detected, chunks = [], [], []
        for start in tqdm(range(0, len(paths), batch_size), desc=f"aligning faces ({recognizer})", unit="batch"):
            images = [torch.from_numpy(read_image(p).rgb).permute(2, 0, 1) for p in paths[start : start + batch_size]]
            alignments = [pipeline.align(image) for image in images]
            with torch.inference_mode():
                chips = torch.cat(
                    [pipeline.chips(image[None], [a]) for image, a in zip(images, alignments, strict=True)]
                )
                chunks.append(torch.nn.functional.normalize(pipeline.network(chips), dim=1))
            transforms += [torch.from_numpy(a.transform) for a in alignments]
            detected += [a.detected for a in alignments]
        transforms, detected, embeddings = torch.stack(transforms), torch.tensor(detected), torch.cat(chunks)
        buffer = io.BytesIO()
        torch.save({"transforms": transforms, "detected": detected, "embeddings": embeddings}, buffer)
        atomic_write_bytes(cache, buffer.getvalue())
    names = [identity_of(p) for p in paths]
    database = FaceDatabase.from_samples(embeddings, names)
    targets = FaceTargets(
        chip_transforms=transforms.numpy().astype(np.float64),
        detected=detected.numpy().astype(bool),
        identities=database.labels(names).numpy(),
        chip_size=pipeline.chip_size,
    )
    return targets, database, pipeline.network
