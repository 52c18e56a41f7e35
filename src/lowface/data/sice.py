"""SICE part 1 (Cai, Gu and Zhang, IEEE TIP 2018) as real low-light pairs: scenes found from the images,
a reference frame per scene, and one train / validation / test split of the scenes.

The folder holds numbered 512x512 JPEGs; each static scene was shot from a tripod at several exposures, but the
sequences are not marked: a scene's frames are usually, not always, contiguous and not always in exposure
order. Frames are first grouped by place from exposure-invariant structure: each frame's rank-transformed
32x32 luma thumbnail (a monotone change of exposure keeps the ranks), compared by correlation with the frames
around it; frames that correlate strongly are linked (union-find), and a frame too dark or too bright to link
strongly (nearly black or clipped) joins the group it correlates best with, if that is clear enough. A place
shot twice gives one group, so the split, made per group, never puts one place in two splits. Each group is
then cut into aligned scenes: the best-exposed frame (the most pixels near mid-grey, Mertens et al.'s
well-exposedness) is a reference, every frame whose phase correlation with it peaks at zero shift belongs to
it, and so on with the frames left. A scene's under-exposed frames, clearly darker than its reference, are
the real low-light inputs; the reference is their real target.

``tools/sice_scenes.py`` runs :func:`find_scenes` and writes the committed list
``lowface/data/sice_scenes.json``; everything else reads that list (:func:`load_scenes`), so the split never
changes under a user's feet.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import rankdata

from lowface.assets import package_file
from lowface.data.lfw import DatasetMissing
from lowface.data.synth import LUMA as SYNTH_LUMA

SICE_DIR = "sice"
SCENES_FILE = "sice_scenes.json"
SPLITS = ("train", "val", "test")
THUMB = 32  # thumbnail side for the structure descriptor
WINDOW = 24  # frames compared on either side when linking
LINK = 0.9  # correlation that links two frames into one scene
ATTACH = 0.6  # weaker correlation that attaches an unlinked frame to its best match's scene
UNDER_EXPOSED = 0.7  # a frame is a low-light input when its mean luma is below this share of the reference's
ALIGN_SIDE = 256  # rank images compared for alignment
ALIGN_RESPONSE = 0.2  # phase-correlation peak above which two frames may be aligned
ALIGN_SHIFT = 1.0  # largest shift, in ALIGN_SIDE pixels, of two aligned frames
LUMA = SYNTH_LUMA.astype(np.float32)


def sice_root(data_root: str | Path) -> Path:
    root = Path(data_root) / SICE_DIR
    if not root.is_dir() or next(root.glob("*.jpg"), None) is None:
        raise DatasetMissing(
            f"SICE not found under {root} (expected its numbered frames 1.jpg, 2.jpg, ...); get part 1 of SICE "
            "(Cai et al. 2018, the 512x512 copy Zero-DCE trained on) and place its numbered JPEGs there"
        )
    return root


def sice_frames(data_root: str | Path) -> list[Path]:
    """Every numbered frame, in number order."""
    paths = [p for p in sice_root(data_root).glob("*.jpg") if p.stem.isdigit()]
    return sorted(paths, key=lambda p: int(p.stem))


def _rank_normalised(values: np.ndarray) -> np.ndarray:
    ranks = rankdata(values.ravel()).astype(np.float32)
    return (ranks - ranks.mean()) / (ranks.std() + 1e-6)


def structure_descriptor(rgb: np.ndarray, side: int = THUMB) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> (side * side,) zero-mean, unit-variance ranks of the area-averaged luma
    thumbnail; the mean of the product of two descriptors is their rank (Spearman) correlation."""
    luma = rgb @ LUMA
    h, w = (luma.shape[0] // side) * side, (luma.shape[1] // side) * side
    thumb = luma[:h, :w].reshape(side, h // side, side, w // side).mean((1, 3))
    return _rank_normalised(thumb)


def well_exposedness(rgb: np.ndarray, sigma: float = 0.2) -> float:
    """Mean over pixels of exp(-(luma - 0.5)^2 / (2 sigma^2)) (Mertens et al. 2007): 1 for all mid-grey."""
    luma = rgb @ LUMA
    return float(np.exp(-((luma - 0.5) ** 2) / (2 * sigma**2)).mean())


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def group_frames(
    descriptors: np.ndarray, window: int = WINDOW, link: float = LINK, attach: float = ATTACH
) -> list[list[int]]:
    """(N, D) structure descriptors in frame order -> scenes as sorted lists of frame indices.

    Frames within ``window`` of each other whose correlation exceeds ``link`` share a scene; a frame linked to
    none then joins the scene of its best match within the window when that correlation exceeds ``attach``,
    else stays alone.
    """
    n = len(descriptors)
    parent = list(range(n))
    best = np.full(n, -np.inf)
    best_match = np.arange(n)
    for i in range(n):
        others = np.arange(i + 1, min(n, i + window + 1))
        if not len(others):
            continue
        scores = descriptors[others] @ descriptors[i] / descriptors.shape[1]
        for j, score in zip(others, scores, strict=True):
            if score > best[i]:
                best[i], best_match[i] = score, j
            if score > best[j]:
                best[j], best_match[j] = score, i
            if score > link:
                parent[_find(parent, i)] = _find(parent, int(j))
    linked = {i for i in range(n) if best[i] > link}
    for i in range(n):
        if i not in linked and best[i] > attach:
            parent[_find(parent, i)] = _find(parent, int(best_match[i]))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(_find(parent, i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


@dataclass(frozen=True)
class SiceScene:
    """One aligned scene: its frame numbers (file stems), the reference frame, the under-exposed frames (the
    real low-light inputs, darkest first), the location group it was found in (scenes shot at one place share
    a group, and a group is never split across train / validation / test) and its split."""

    scene: int
    group: int
    frames: list[int]
    reference: int
    under_exposed: list[int]
    split: str


def rank_image(rgb: np.ndarray, side: int = ALIGN_SIDE) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> (side, side) float64 ranks in (0, 1] of the area-resized luma."""
    luma = cv2.resize(rgb @ LUMA, (side, side), interpolation=cv2.INTER_AREA)
    return (rankdata(luma.ravel()) / luma.size).reshape(side, side)


def aligned(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two :func:`rank_image` s show the same view, pixel-aligned: their phase correlation has a clear
    peak (response above ``ALIGN_RESPONSE``; nearly black frames still reach 0.35) within ``ALIGN_SHIFT``
    thumbnail pixels of zero shift (two framings of one place peak far off, or not at all)."""
    (dx, dy), response = cv2.phaseCorrelate(a, b)
    return response > ALIGN_RESPONSE and max(abs(dx), abs(dy)) < ALIGN_SHIFT


def split_aligned(members: list[int], ranks: dict[int, np.ndarray], exposedness: dict[int, float]) -> list[list[int]]:
    """A location group -> its aligned scenes, each led by its reference: the best-exposed frame left, with
    every frame left that is aligned to it; repeated until no frame is left (single frames are dropped)."""
    left, scenes = list(members), []
    while left:
        reference = max(left, key=lambda i: exposedness[i])
        scene = [reference] + [i for i in left if i != reference and aligned(ranks[i], ranks[reference])]
        left = [i for i in left if i not in scene]
        if len(scene) > 1:
            scenes.append(scene)
    return scenes


def find_scenes(data_root: str | Path, seed: int = 0, shares: tuple[float, float, float] = (0.7, 0.1, 0.2)) -> dict:
    """Group the frames by place, split each group into aligned scenes with a reference and under-exposed
    frames, and split the groups into train / val / test by ``shares`` (seeded); a JSON-ready record."""
    from lowface.io import read_image

    paths = sice_frames(data_root)
    numbers = [int(p.stem) for p in paths]
    descriptors, ranks, exposedness, means = [], {}, {}, {}
    for i, path in enumerate(paths):
        rgb = read_image(path).rgb
        descriptors.append(structure_descriptor(rgb))
        ranks[i], exposedness[i], means[i] = rank_image(rgb), well_exposedness(rgb), float((rgb @ LUMA).mean())
    groups = [g for g in group_frames(np.stack(descriptors)) if len(g) > 1]
    order = np.random.default_rng(seed).permutation(len(groups))
    bounds = np.cumsum(np.array(shares) / sum(shares) * len(groups)).round().astype(int)
    split_of = {int(g): SPLITS[int(np.searchsorted(bounds, rank, side="right"))] for rank, g in enumerate(order)}
    scenes = []
    for g, members in enumerate(groups):
        for reference, *others in split_aligned(members, ranks, exposedness):
            dark = sorted((i for i in others if means[i] < UNDER_EXPOSED * means[reference]), key=means.get)
            frames = [numbers[i] for i in sorted([reference, *others])]
            under = [numbers[i] for i in dark]
            scenes.append(SiceScene(len(scenes), g, frames, numbers[reference], under, split_of[g]))
    used = {n for s in scenes for n in s.frames}
    return {"frames": len(paths), "groups": len(groups), "unused": [n for n in numbers if n not in used],
            "scenes": [asdict(s) for s in scenes]}  # fmt: skip


def load_scenes(split: str | None = None) -> list[SiceScene]:
    """The committed scene list (``lowface/data/sice_scenes.json``), optionally only one split."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown SICE split {split!r}; available: {', '.join(SPLITS)}")
    text = package_file("lowface.data", SCENES_FILE).read_text()
    scenes = [SiceScene(**entry) for entry in json.loads(text)["scenes"]]
    return [s for s in scenes if split is None or s.split == split]


def sice_pairs(data_root: str | Path, split: str, frames: str = "under") -> list[tuple[Path, Path]]:
    """(frame, its scene's reference frame) paths of every scene of ``split``, scene by scene: the under-exposed
    frames (``frames="under"``, the real low-light pairs) or every frame of the scene, the reference included
    (``"all"``: the multi-exposure training set of zero-reference methods such as Zero-DCE)."""
    if frames not in ("under", "all"):
        raise ValueError(f"frames must be 'under' or 'all', got {frames!r}")
    root = sice_root(data_root)
    return [
        (root / f"{number}.jpg", root / f"{scene.reference}.jpg")
        for scene in load_scenes(split)
        for number in (scene.under_exposed if frames == "under" else scene.frames)
    ]
