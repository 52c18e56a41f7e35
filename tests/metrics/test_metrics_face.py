"""Face recognition metrics: known values on constructed scores."""

from __future__ import annotations

import numpy as np
import pytest

from lowface.metrics.face import best_threshold, identification_rank1, tar_at_far, verification_accuracy


def test_perfectly_separable_pairs_give_full_accuracy():
    same = np.array([True] * 50 + [False] * 50)
    scores = np.where(same, 0.9, 0.1) + np.linspace(0, 0.01, 100)
    result = verification_accuracy(scores, same, np.arange(100) % 10)
    assert result.accuracy == 1.0 and result.std == 0.0
    assert all(0.11 < t < 0.9 for t in result.thresholds)


def test_threshold_chosen_on_other_folds_not_the_test_fold():
    # Fold 0 alone would prefer a different threshold: its accuracy must reflect the other folds' choice.
    same = np.array([True, False] * 10)
    scores = np.where(same, 0.8, 0.2)
    scores[0], scores[1] = 0.3, 0.25  # fold 0: a genuine pair scored low
    folds = np.repeat(np.arange(10), 2)
    result = verification_accuracy(scores, same, folds)
    assert result.fold_accuracies[0] == 0.5 and result.accuracy == pytest.approx(0.95)


def test_missing_faces_count_as_errors():
    same = np.array([True, False] * 10)
    scores = np.where(same, 0.8, 0.2).astype(float)
    scores[0] = np.nan
    assert verification_accuracy(scores, same, np.repeat(np.arange(10), 2)).accuracy == pytest.approx(0.95)


def test_best_threshold_and_tar_at_far():
    assert 0.2 < best_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True])) < 0.8
    impostors = np.linspace(0, 0.5, 1000)
    genuine = np.array([0.4, 0.6, 0.7, 0.45])
    scores = np.concatenate([impostors, genuine])
    same = np.concatenate([np.zeros(1000, bool), np.ones(4, bool)])
    # At FAR 1e-3 one impostor (the highest, 0.5) may pass: the threshold sits at the second highest.
    assert tar_at_far(scores, same, 1e-3) == 0.5  # 0.6 and 0.7 pass, 0.4 and 0.45 do not


def test_identification_rank1():
    gallery = np.eye(3)
    probes = np.array([[0.9, 0.1, 0], [0, 0.2, 0.9], [0.8, 0.3, 0]])
    assert identification_rank1(gallery, np.array([0, 1, 2]), probes, np.array([0, 2, 1])) == pytest.approx(2 / 3)
