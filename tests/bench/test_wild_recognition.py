"""The in-the-wild identification benchmark's scoring (benchmarks/wild_recognition.py) on hand-made embeddings."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
wild = pytest.importorskip("wild_recognition")


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
