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

FACE_SETS = ("lfw", "celeba")


def identity_of(path: str | Path) -> str:
    """LFW layout: the identity is the name of the image's folder."""
    return Path(path).parent.name


def training_faces(data_root: str | Path, sets: Sequence[str]) -> tuple[list[Path], list[str]]:
    """The face photos a run trains on and their identity names: "lfw", LFW's 1,549 training faces (people
    disjoint from the benchmark's pairs; tight 250x250 crops); "celeba", the in-the-wild CelebA photos of the
    committed split's train people (whole photos, faces at various sizes and positions; never val or test)."""
    from lowface.data.celeba import celeba_identities, celeba_split
    from lowface.data.lfw import lfw_train_images

    unknown = set(sets) - set(FACE_SETS)
    if unknown or not sets:
        raise ValueError(f"face_sets: unknown or none {sorted(unknown)}; choose from {', '.join(FACE_SETS)}")
    paths: list[Path] = []
    names: list[str] = []
    if "lfw" in sets:
        lfw = lfw_train_images(data_root)
        paths += lfw
        names += [identity_of(p) for p in lfw]
    if "celeba" in sets:
        people = celeba_identities(data_root)
        celeba = celeba_split(data_root, "train")
        paths += celeba
        names += [f"celeba-{people[p]}" for p in celeba]
    return paths, names


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
    paths: Sequence[str | Path],
    recognizer: str,
    cache_dir: Path,
    batch_size: int = 16,
    names: Sequence[str] | None = None,
) -> tuple[FaceTargets, FaceDatabase, torch.nn.Module]:
    """Align every clean training face with ``recognizer``'s detector, embed it, and build the face database
    (one entry per identity: the normalised mean of its images' embeddings). ``names``: each image's identity
    (default: LFW's folder names). Returns the per-image targets, the database and the frozen recognizer."""
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
            with torch.inference_mode():  # one image at a time: in-the-wild photos differ in size
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
    names = list(names) if names is not None else [identity_of(p) for p in paths]
    database = FaceDatabase.from_samples(embeddings, names)
    targets = FaceTargets(
        chip_transforms=transforms.numpy().astype(np.float64),
        detected=detected.numpy().astype(bool),
        identities=database.labels(names).numpy(),
        chip_size=pipeline.chip_size,
    )
    return targets, database, pipeline.network
