"""The in-the-wild identification scoring (lowface.bench.wild, used by ``lowface bench`` and
benchmarks/wild_recognition.py) and LFW's false matches at the clean threshold, on hand-made embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lowface.bench import wild
from lowface.bench.rows import add_false_matches


def test_gallery_is_each_persons_first_photo():
    paths = [Path(f"{i}.jpg") for i in range(6)]
    people = dict(zip(paths, [7, 7, 8, 7, 8, 9], strict=True))
    assert wild.gallery_and_probes(paths, people) == ([0, 2, 5], [1, 3, 4])


def test_rank1_counts_a_missed_face_as_a_miss_and_far_uses_the_clean_threshold():
    gallery = np.eye(3)  # three people, orthogonal unit embeddings
    labels = np.array([10, 11, 12])
    probes = np.array([[1.0, 0, 0], [0, 1, 0], [0, 0.6, 0.8]])  # the third is 12, with some of 11 in it
    found = np.array([True, False, True])
    row = wild.score_probes(probes, found, gallery, labels, np.array([10, 11, 12]), {1e-3: 0.5})
    assert row["rank1"] == pytest.approx(2 / 3)  # the second is nearest its own but its face was not found
    assert row["far_at_0.001"] == pytest.approx(1 / 6)  # of 6 impostor similarities, one (0.6) is above 0.5
    assert row["tar_at_0.001"] == pytest.approx(2 / 3)  # own-gallery similarity above 0.5 and the face found
    impostors = np.linspace(-1, 1, 10_001)
    assert wild.threshold_at(impostors, 1e-2) == pytest.approx(0.98, abs=1e-3)


def test_rank1_by_face_size_counts_each_bin_apart():
    widths = np.array([30.0, 70.0, 120.0, np.nan, 64.0])  # small, medium, large, no face on the clean photo, medium
    bins = wild.size_bins(widths)
    assert bins.tolist() == [0, 1, 2, -1, 1]
    gallery, labels = np.eye(2), np.array([1, 2])
    probes = np.array([[1.0, 0], [0, 1.0], [0, 1.0], [1.0, 0], [1.0, 0]])  # the last probe is person 2: wrong
    row = wild.score_probes(probes, np.ones(5, bool), gallery, labels, np.array([1, 2, 1, 1, 2]), {}, bins)
    assert (row["rank1_small"], row["rank1_medium"], row["rank1_large"]) == (1.0, 0.5, 0.0)
    assert row["rank1"] == pytest.approx(3 / 5)  # the unknown-size probe counts overall
    row = wild.score_probes(probes[:2], np.ones(2, bool), gallery, labels, np.array([1, 2]), {}, bins[:2])
    assert np.isnan(row["rank1_large"])  # an empty bin has no rank-1


def test_clean_thresholds_come_from_pairs_of_different_people_only():
    vectors = np.array([[1.0, 0], [1.0, 0], [0, 1.0], [0.6, 0.8]])  # photos 0 and 1 are one person
    labels = np.array([1, 1, 2, 3])
    thresholds = wild.clean_thresholds(vectors, labels)
    impostors = np.array([0.0, 0.6, 0.0, 0.6, 0.8])  # (0,2) (0,3) (1,2) (1,3) (2,3); (0,1) = 1.0 is genuine
    assert thresholds == {"0.001": pytest.approx(np.quantile(impostors, 0.999)),
                          "0.01": pytest.approx(np.quantile(impostors, 0.99))}  # fmt: skip


def test_lfw_false_matches_use_the_clean_impostors_threshold():
    same = [True, False, False, False, False]
    rows = {
        "clean": {"judges": {"j": {"scores": [0.9, 0.1, 0.2, 0.3, 0.4]}}},
        "alike": {"judges": {"j": {"scores": [0.9, 0.5, 0.5, 0.5, 0.1]}}},  # different people pulled together
    }
    add_false_matches(rows, ["j"], same, far=0.25)
    threshold = np.quantile([0.1, 0.2, 0.3, 0.4], 0.75)  # 0.325
    assert rows["clean"]["judges"]["j"]["far_at_clean"] == pytest.approx(0.25)  # 0.4 > 0.325
    assert rows["alike"]["judges"]["j"]["far_at_clean"] == pytest.approx(0.75) and threshold < 0.5
    assert rows["alike"]["judges"]["j"]["impostor_shift"] == pytest.approx(0.4 - 0.25)


def test_cached_uint8_outputs_are_embedded_as_the_float_images_they_stand_for():
    class Recorder:  # a stand-in recognizer: embeds an image as its mean level
        def align(self, image):
            return type("Alignment", (), {"detected": True})()

        def embed(self, x, alignments):
            import torch

            return torch.stack([x.mean().reshape(1)])

    level = np.full((8, 8, 3), 0.4, np.float32)
    as_uint8 = np.round(level * 255).astype(np.uint8)
    floats, _ = wild.embed_all(Recorder(), [level])
    from_uint8, found = wild.embed_all(Recorder(), [as_uint8])
    assert floats[0, 0] == pytest.approx(0.4) and from_uint8[0, 0] == pytest.approx(102 / 255) and found.all()


def test_new_false_accepts_are_those_the_clean_photo_does_not_make():
    gallery, labels = np.eye(3), np.array([10, 11, 12])
    clean = np.array([[0.8, 0.6, 0], [0, 1.0, 0]])  # probe 0 (person 10) already matches 11 on its clean photo
    processed = np.array([[0.8, 0.6, 0], [0, 0.8, 0.6]])  # ... and still does; probe 1 now also matches 12
    row = wild.score_probes(processed, np.ones(2, bool), gallery, labels, np.array([10, 11]), {1e-3: 0.5},
                            clean_probe_vectors=clean)  # fmt: skip
    assert row["far_at_0.001"] == pytest.approx(2 / 4)  # 4 impostor pairs, two above 0.5
    assert row["new_far_at_0.001"] == pytest.approx(1 / 4)  # only (1, 12) is the processing's own
    assert "new_far_at_0.001" not in wild.score_probes(processed, np.ones(2, bool), gallery, labels,
                                                       np.array([10, 11]), {1e-3: 0.5})  # fmt: skip
