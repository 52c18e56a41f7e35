"""SICE as real pairs: scene grouping from exposure-invariant structure, alignment, the committed split."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from conftest import DATA_ROOT
from lowface.data.sice import (
    SPLITS,
    aligned,
    find_scenes,
    group_frames,
    load_scenes,
    rank_image,
    sice_pairs,
    structure_descriptor,
    well_exposedness,
)

SICE_PRESENT = (DATA_ROOT / "sice" / "1.jpg").is_file()
needs_sice = pytest.mark.skipif(not SICE_PRESENT, reason=f"SICE not found under {DATA_ROOT / 'sice'}")


def scene(seed: int, size: int = 128) -> np.ndarray:
    """A random textured scene: smoothed noise per channel in [0, 1] (different seeds: unrelated scenes)."""
    field = gaussian_filter(np.random.default_rng(seed).random((size, size, 3)), (4, 4, 0))
    field = (field - field.min()) / (field.max() - field.min())
    return field.astype(np.float32)


def exposures(image: np.ndarray, gains=(0.05, 0.2, 0.6, 1.5)) -> list[np.ndarray]:
    """The same scene at several exposures: gain then a camera-like clip and gamma (monotone per channel)."""
    return [np.clip(image * g, 0, 1) ** 0.8 for g in gains]


def test_structure_descriptor_ignores_exposure_and_tells_scenes_apart():
    a, b = scene(1), scene(7)
    dark, bright = exposures(a)[0], exposures(a)[2]
    same = structure_descriptor(dark) @ structure_descriptor(bright) / structure_descriptor(dark).size
    other = structure_descriptor(dark) @ structure_descriptor(b) / structure_descriptor(b).size
    assert same > 0.95 and other < 0.5


def test_frames_are_grouped_by_scene_even_when_out_of_order_and_interleaved():
    a, b, c = (exposures(scene(s)) for s in (1, 7, 13))
    order = [a[0], a[1], b[2], a[2], a[3], b[0], b[1], b[3], c[1], c[0], c[3], c[2]]
    descriptors = np.stack([structure_descriptor(im) for im in order])
    assert group_frames(descriptors) == [[0, 1, 3, 4], [2, 5, 6, 7], [8, 9, 10, 11]]


def test_alignment_accepts_exposures_of_one_view_and_refuses_a_shifted_view():
    image = scene(3, 256)
    dark, bright = exposures(image)[0], exposures(image)[2]
    shifted = np.roll(bright, 9, axis=1)
    assert aligned(rank_image(dark, 128), rank_image(bright, 128))
    assert not aligned(rank_image(shifted, 128), rank_image(bright, 128))


def test_well_exposedness_prefers_mid_grey_to_dark_or_clipped():
    image = scene(2)
    dark, good, clipped = exposures(image, (0.1, 0.9, 4.0))
    assert well_exposedness(good) > max(well_exposedness(dark), well_exposedness(clipped))


def test_the_committed_split_keeps_places_whole_and_every_dark_frame_darker_than_its_reference():
    record = json.loads(resources.files("lowface.data").joinpath("sice_scenes.json").read_text())
    scenes = load_scenes()
    assert len(scenes) == len(record["scenes"]) > 150
    split_of_group: dict[int, set[str]] = {}
    for s in scenes:
        split_of_group.setdefault(s.group, set()).add(s.split)
        assert s.reference in s.frames and set(s.under_exposed) <= set(s.frames) - {s.reference}
    assert all(len(splits) == 1 for splits in split_of_group.values())  # no place in two splits
    frames = [n for s in scenes for n in s.frames]
    assert len(frames) == len(set(frames))  # no frame in two scenes
    counts = {split: sum(len(s.under_exposed) for s in load_scenes(split)) for split in SPLITS}
    assert counts["train"] > 400 and counts["val"] > 30 and counts["test"] > 100
    with pytest.raises(ValueError, match="unknown SICE split 'dev'"):
        load_scenes("dev")


@pytest.mark.slow
@needs_sice
def test_committed_scene_list_is_what_find_scenes_gives_on_the_data():
    committed = json.loads(resources.files("lowface.data").joinpath("sice_scenes.json").read_text())
    found = find_scenes(DATA_ROOT)
    assert found["scenes"] == committed["scenes"] and found["unused"] == committed["unused"]


@needs_sice
def test_sice_pairs_give_darker_frames_with_their_reference():
    from lowface.io import read_image

    pairs = sice_pairs(DATA_ROOT, "val")
    assert len(pairs) == sum(len(s.under_exposed) for s in load_scenes("val"))
    dark, reference = (read_image(p).rgb for p in pairs[0])
    assert dark.shape == reference.shape and dark.mean() < 0.7 * reference.mean()
    everything = sice_pairs(DATA_ROOT, "val", frames="all")
    assert len(everything) == sum(len(s.frames) for s in load_scenes("val")) > len(pairs)
    assert all(isinstance(p, Path) for pair in everything for p in pair)


@needs_sice
def test_real_pairs_set_reads_every_nth_of_the_first_frames():
    """``RealPairsSet.load(limit, every)``: the first ``limit`` pairs, of those every ``every``-th, each dark frame
    with its own scene's reference (the selection benchmarks' quick look at SICE's training frames)."""
    from lowface.bench.real_pairs import RealPairsSet

    full, thinned = RealPairsSet.load(DATA_ROOT, "val", limit=7), RealPairsSet.load(DATA_ROOT, "val", limit=7, every=3)
    assert thinned.names == full.names[::3] and len(thinned.names) == 3
    for dark, reference, index in zip(thinned.dark, thinned.references, (0, 3, 6), strict=True):
        assert np.array_equal(dark, full.dark[index]) and np.array_equal(reference, full.references[index])
    assert thinned.dataset != full.dataset  # the enhanced-image cache keeps them apart


def test_celeba_split_is_by_person_fixed_and_committed(data_root):
    from lowface.data.celeba import celeba_identities, celeba_split, committed_split, split_people

    people = sorted(set(celeba_identities(data_root).values()))
    assert {k: sorted(v) for k, v in committed_split().items()} == split_people(people)  # the committed list
    parts = {name: celeba_split(data_root, name) for name in ("train", "val", "test")}
    assert [len(parts[n]) for n in ("train", "val", "test")] == [535, 90, 265]
    who = celeba_identities(data_root)
    persons = {name: {who[p] for p in paths} for name, paths in parts.items()}
    assert not persons["train"] & persons["test"] and not persons["val"] & persons["test"]
    assert not persons["train"] & persons["val"]
    with pytest.raises(ValueError, match="unknown CelebA split"):
        celeba_split(data_root, "all")


def test_split_people_cuts_by_share_and_seed():
    from lowface.data.celeba import split_people

    parts = split_people(list(range(100, 150)))
    assert [len(parts[n]) for n in ("train", "val", "test")] == [30, 5, 15]
    assert sorted(p for part in parts.values() for p in part) == list(range(100, 150))
    assert split_people(list(range(100, 150))) == parts
