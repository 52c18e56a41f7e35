"""Face recognition metrics: LFW-style 10-fold verification, TAR at a fixed FAR, closed-set identification."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold (score >= t means 'same person') with the highest accuracy on these pairs."""
    candidates = np.unique(scores)
    midpoints = np.concatenate(
        [[candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2, [candidates[-1] + 1e-6]]
    )
    accuracies = [np.mean((scores >= t) == same) for t in midpoints]
    return float(midpoints[int(np.argmax(accuracies))])


@dataclass(frozen=True)
class VerificationResult:
    accuracy: float  # mean over folds
    std: float  # standard deviation over folds
    fold_accuracies: list[float]
    thresholds: list[float]


def verification_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> VerificationResult:
    """LFW protocol: for each fold, the threshold is chosen on the other folds and accuracy measured on it.

    scores: (N,) similarity per pair (higher = more alike); same: (N,) bool; folds: (N,) fold index.
    Pairs whose score is NaN (a face not found) count as wrong.
    """
    scores, same, folds = np.asarray(scores, float), np.asarray(same, bool), np.asarray(folds)
    valid = np.isfinite(scores)
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        train = (folds != fold) & valid
        test = folds == fold
        threshold = best_threshold(scores[train], same[train])
        correct = (scores[test] >= threshold) == same[test]
        correct &= valid[test]
        accuracies.append(float(correct.mean()))
        thresholds.append(threshold)
    return VerificationResult(float(np.mean(accuracies)), float(np.std(accuracies)), accuracies, thresholds)


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float = 1e-3) -> float:
    """True accept rate at the threshold where at most ``far`` of different-person pairs are accepted."""
    scores, same = np.asarray(scores, float), np.asarray(same, bool)
    impostor = np.sort(np.nan_to_num(scores[~same], nan=-np.inf))[::-1]
    allowed = int(np.floor(far * len(impostor)))
    threshold = impostor[allowed] if allowed < len(impostor) else -np.inf
    genuine = np.nan_to_num(scores[same], nan=-np.inf)
    return float(np.mean(genuine > threshold))


def identification_rank1(
    gallery: np.ndarray, gallery_labels: np.ndarray, probes: np.ndarray, probe_labels: np.ndarray
) -> float:
    """Closed-set rank-1 accuracy with cosine similarity: (G, D), (G,), (P, D), (P,) -> fraction correct."""
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    p = probes / np.linalg.norm(probes, axis=1, keepdims=True)
    predicted = np.asarray(gallery_labels)[np.argmax(p @ g.T, axis=1)]
    return float(np.mean(predicted == np.asarray(probe_labels)))
