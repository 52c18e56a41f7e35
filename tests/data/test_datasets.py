"""The training dataset: crops that keep the face, labels and chip transforms that follow crops and flips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import assert_close, smooth_test_image
from lowface.data.datasets import FaceTargets, MixedDataset, RealPairsDataset, UnpairedLowLightDataset
from lowface.face.align import warp
from lowface.io import ImageData, write_image


def make_images(tmp_path: Path, count: int = 4, size: int = 64) -> list[Path]:
    paths = []
    for i in range(count):
        path = tmp_path / f"P{i}" / f"P{i}_0001.png"
        write_image(path, ImageData(smooth_test_image(size, size, seed=i)))
        paths.append(path)
    return paths


def test_chip_transform_follows_crop_and_flip_and_labels_follow_the_crop(tmp_path: Path):
    paths = make_images(tmp_path)
    chip = 16
    transforms = np.tile(np.array([[1.0, 0, 30], [0, 1.0, 24]]), (4, 1, 1))  # chip = image[24:40, 30:46]
    faces = FaceTargets(transforms, np.array([True, True, False, True]), np.array([0, 1, 2, 3]), chip)
    labels = [np.arange(64 * 64).reshape(64, 64) % 11 for _ in paths]
    labels[2] = None
    dataset = UnpairedLowLightDataset(paths, crop=32, ratio_range=(0.3, 0.3), seed=1, labels=labels, faces=faces)
    flips = set()
    for epoch in range(6):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            item = dataset[index]
            dark = torch.from_numpy(dataset.dark[index]).permute(2, 0, 1)[None]
            expected = warp(dark, torch.from_numpy(transforms[index]).float()[None], chip)
            got = warp(item["low"][None], item["chip_transform"][None], chip)
            assert_close(got, expected, atol=1e-5, rtol=1e-5)  # the face is inside the crop, whichever way
            flips.add(item["chip_transform"][0, 0].item() < 0)
            assert item["face_valid"].item() == (index != 2) and item["identity"].item() == index
            if index == 2:
                assert (item["labels"] == -1).all()
            else:
                assert item["labels"].shape == (32, 32) and item["labels"].dtype == torch.int64
    assert flips == {True, False}


def test_dataset_is_reproducible_per_epoch_and_uses_the_synthesis_preset(tmp_path: Path):
    paths = make_images(tmp_path)
    a = UnpairedLowLightDataset(paths, crop=32, seed=3, synthesis="gamma-noise")
    b = UnpairedLowLightDataset(paths, crop=32, seed=3, synthesis="gamma-noise")
    assert all(torch.equal(a[i]["low"], b[i]["low"]) for i in range(len(a)))
    item = a[0]
    assert (item["low"] - item["clean"] ** 2.2).abs().mean() < 0.01  # the low crop is the clean crop darkened
    a.set_epoch(1)
    assert not torch.equal(a[0]["low"], b[0]["low"])


def test_noise_is_drawn_afresh_for_every_epoch_and_set_presets_darken_once(tmp_path: Path):
    paths = make_images(tmp_path, size=40)
    noisy = UnpairedLowLightDataset(paths, crop=40, seed=0, synthesis="x0.15-noise0.02")
    first = noisy[0]
    noisy.set_epoch(1)
    second = noisy[0]
    same_view = torch.equal(first["clean"], second["clean"]) or torch.equal(first["clean"], second["clean"].flip(-1))
    assert same_view and not torch.equal(first["low"], second["low"])  # same image, new noise
    assert abs((first["low"] - 0.15 * first["clean"]).std().item() - 0.02) < 0.005
    linear = UnpairedLowLightDataset(paths, crop=40, seed=0, synthesis="linear")
    assert linear.dark is not None and len(linear.dark) == len(paths)


def test_real_lowlight_photos_lists_photos_recursively_in_order_with_a_limit(tmp_path):
    from lowface.data.lowlight import real_lowlight_photos

    folder = tmp_path / "lowlight_real"
    (folder / "LIME").mkdir(parents=True)
    for name in ("DICM/02.jpg", "DICM/01.JPG", "LIME/1.bmp", "LIME/notes.txt", "x.png"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"")
    found = [p.relative_to(folder).as_posix() for p in real_lowlight_photos(tmp_path)]
    assert found == ["DICM/01.JPG", "DICM/02.jpg", "LIME/1.bmp", "x.png"]
    assert len(real_lowlight_photos(tmp_path, 2)) == 2 and real_lowlight_photos(tmp_path, 0) == []


def make_pairs(tmp_path: Path, count: int = 3, size: int = 48) -> list[tuple[Path, Path]]:
    """(dark, reference) files: the reference of pair i is a smooth image, the dark one is it x 0.2."""
    pairs = []
    for i in range(count):
        reference = smooth_test_image(size, size, seed=i)
        dark_path, reference_path = tmp_path / f"{i}_dark.png", tmp_path / f"{i}_ref.png"
        write_image(reference_path, ImageData(reference))
        write_image(dark_path, ImageData(reference * 0.2))
        pairs.append((dark_path, reference_path))
    return pairs


def test_real_pairs_crop_the_dark_frame_and_its_reference_at_the_same_place(tmp_path: Path):
    dataset = RealPairsDataset(make_pairs(tmp_path), crop=24, seed=2, labels=True, faces=True)
    for epoch in range(3):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            item = dataset[index]
            assert_close(item["low"], item["clean"] * 0.2, atol=1 / 255, rtol=1e-5)  # the same window, same flip
            assert item["positive"].shape == item["negative"].shape == (3, 24, 24)
            assert (item["labels"] == -1).all() and not item["face_valid"] and item["chip_transform"].shape == (2, 3)
    plain = RealPairsDataset(make_pairs(tmp_path), crop=24, seed=2)
    assert set(plain[0]) == {"low", "clean", "positive", "negative", "exposure_fixed"}
    assert torch.equal(plain[1]["low"], RealPairsDataset(make_pairs(tmp_path), crop=24, seed=2)[1]["low"])
    free = RealPairsDataset(make_pairs(tmp_path), crop=24, exposure_free=True)
    assert plain[0]["exposure_fixed"] and not free[0]["exposure_fixed"]


def test_real_pairs_refuse_a_frame_that_does_not_match_its_reference(tmp_path: Path):
    pairs = make_pairs(tmp_path, count=1)
    write_image(pairs[0][0], ImageData(smooth_test_image(40, 48)))
    with pytest.raises(ValueError, match=r"0_dark\.png: .* does not match its reference"):
        RealPairsDataset(pairs, crop=24)


def test_mixed_dataset_holds_the_asked_share_of_the_second_set_and_cycles_it(tmp_path: Path):
    faces = UnpairedLowLightDataset(make_images(tmp_path, count=6), crop=32, seed=0)
    real = RealPairsDataset(make_pairs(tmp_path, count=2, size=48), crop=32, seed=0)
    mixed = MixedDataset(faces, real, share=0.5)
    assert len(mixed) == 12
    sources = [torch.equal(mixed[i]["low"], faces[i]["low"]) if i < 6 else None for i in range(12)]
    assert all(sources[:6])
    second = [mixed[i]["clean"] for i in range(6, 12)]
    assert torch.equal(second[0], real[0]["clean"]) and torch.equal(second[1], real[1]["clean"])
    assert all(mixed[i]["exposure_fixed"] for i in range(12))  # both kinds carry the key: batches collate
    with pytest.raises(ValueError, match=r"must be in \(0, 1\)"):
        MixedDataset(faces, real, share=1.0)


def test_zoomed_faces_are_smaller_in_the_crop_and_their_chip_still_shows_the_face(tmp_path: Path):
    paths = []
    for i in range(4):  # linear ramps: area downscaling and bilinear sampling keep them exactly
        y, x = np.mgrid[0:96, 0:96] / 96.0
        path = tmp_path / f"P{i}" / f"P{i}_0001.png"
        write_image(path, ImageData(np.stack([x, y, 0.2 + 0.1 * i + 0.2 * (x + y) / 2], -1).astype(np.float32)))
        paths.append(path)
    chip = 32
    transforms = np.tile(np.array([[1.0, 0, 40], [0, 1.0, 30]]), (4, 1, 1))  # chip = image[30:62, 40:72]
    faces = FaceTargets(transforms, np.ones(4, bool), np.arange(4), chip)
    labels = [np.arange(96 * 96).reshape(96, 96) % 11 for _ in paths]
    dataset = UnpairedLowLightDataset(paths, crop=40, seed=0, synthesis="x0.15-noise0.02", labels=labels, faces=faces,
                                      zoom=(0.5, 0.5))  # fmt: skip
    for index in range(len(dataset)):
        item = dataset[index]
        transform = item["chip_transform"]
        assert abs(abs(transform[0, 0].item()) - 0.5) < 0.01 and abs(transform[1, 1].item() - 0.5) < 0.01
        full = torch.from_numpy(dataset.clean[index]).permute(2, 0, 1)[None]
        face = warp(full, torch.from_numpy(transforms[index]).float()[None], chip)
        # the same face, now 16 px wide in the crop: sampled from the half-size image, it is the full-size chip
        assert (warp(item["clean"][None], transform[None], chip) - face).abs().max() < 0.01
        assert item["labels"].shape == (40, 40) and abs(item["low"].mean() - 0.15 * item["clean"].mean()) < 0.01
    with pytest.raises(ValueError, match=r"zoom \(0.5, 1.0\) needs a per-image synthesis preset"):
        UnpairedLowLightDataset(paths, crop=40, seed=0, synthesis="linear", zoom=(0.5, 1.0))
    with pytest.raises(ValueError, match=r"0 < low <= high <= 1 \(faces made smaller\)"):
        UnpairedLowLightDataset(paths, crop=40, seed=0, synthesis="x0.15-noise0.02", zoom=(0.5, 1.5))
