"""The training dataset: crops that keep the face, labels and chip transforms that follow crops and flips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from conftest import smooth_test_image
from lowface.data.datasets import FaceTargets, UnpairedLowLightDataset
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
            assert torch.allclose(got, expected, atol=1e-5)  # the face is inside the crop, whichever way
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
