"""NIQE (Mittal, Soundararajan & Bovik 2013), the MATLAB reference algorithm with its official pristine model.

Lower is better. Convention (as the MATLAB code and the common Python ports): the Y channel of ITU-R BT.601
YCbCr (MATLAB ``rgb2ycbcr``, 16-235) rounded to integers, no border crop, 96x96 blocks, two scales (the
second by MATLAB-style antialiased bicubic halving), 36 features per block, distance between the
multivariate Gaussian of the image's blocks and the pristine model. The pristine model (mean, covariance,
7x7 Gaussian window) is the official one as redistributed in PyPI ``basicsr==1.4.2``
(``basicsr/metrics/niqe_pris_params.npz``, Apache-2.0): read from disk, basicsr is never imported.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.ndimage import convolve
from scipy.special import gamma

from lowface.assets import Asset, AssetMissing
from lowface.metrics.catalogue import register_metric

BLOCK = 96
_GAMMA_GRID = np.arange(0.2, 10.001, 0.001)
_R_GAMMA = gamma(2 / _GAMMA_GRID) ** 2 / (gamma(1 / _GAMMA_GRID) * gamma(3 / _GAMMA_GRID))
_AGGD_FACTOR_MIN = np.sqrt(gamma(1 / _GAMMA_GRID[0]) / gamma(3 / _GAMMA_GRID[0]))


NIQEModelMissing = AssetMissing  # the name earlier versions raised
PRISTINE_MODEL = Asset(
    "niqe_pristine", "basicsr", "metrics/niqe_pris_params.npz",
    "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296",
    "basicsr==1.4.2 (pip install --no-deps; `make install` does)", "Apache-2.0", "NIQE's official pristine model",
)  # fmt: skip


@lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (36,), covariance (36, 36), Gaussian window (7, 7)) of the official pristine model."""
    path = PRISTINE_MODEL.locate()
    with np.load(path) as data:
        return data["mu_pris_param"][0], data["cov_pris_param"], data["gaussian_window"]


def matlab_y(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] -> (H, W) MATLAB rgb2ycbcr luma on the 0-255 scale (16-235)."""
    return 16.0 + rgb @ np.array([65.481, 128.553, 24.966])


def _cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's bicubic kernel (a = -0.5)."""
    ax = np.abs(x)
    return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


def _halve_axis(image: np.ndarray, axis: int) -> np.ndarray:
    """MATLAB imresize(., 0.5, 'bicubic') along one axis: antialiased kernel 8 taps wide, symmetric edges."""
    length = image.shape[axis]
    out_length = math.ceil(length / 2)
    scale, width = 0.5, 8.0
    centres = np.arange(1, out_length + 1) / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinates
    left = np.floor(centres - width / 2)
    taps = math.ceil(width) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    weights = scale * _cubic(scale * (centres[:, None] - indices))
    weights /= weights.sum(1, keepdims=True)
    mirrored = np.concatenate([np.arange(length), np.arange(length - 1, -1, -1)])
    indices = mirrored[np.mod(indices.astype(int) - 1, 2 * length)]
    moved = np.moveaxis(image, axis, 0)
    result = np.einsum("ot,ot...->o...", weights, moved[indices])
    return np.moveaxis(result, 0, axis)


def matlab_halve(image: np.ndarray) -> np.ndarray:
    """MATLAB imresize(image, 0.5) (bicubic, antialiasing) of a 2-D array; rows first, as MATLAB orders them
    (the dimension with the larger scale change first; equal here, MATLAB then takes rows)."""
    return _halve_axis(_halve_axis(image, 0), 1)


def _aggd(values: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit by moment matching: (shape alpha, left scale, right scale).
    A side without values (a flat block, a block without negative products) gets a NaN scale and the smallest
    alpha, as MATLAB's code gives (without NumPy's "mean of empty slice" warning); :func:`niqe_of_luma` then leaves
    the NaN features out of the mean (MATLAB's ``nanmean``) and the block out of the covariance."""
    values = values.ravel()
    left, right = (
        np.sqrt(np.mean(side**2)) if side.size else np.nan for side in (values[values < 0], values[values > 0])
    )
    if np.isnan(left) or np.isnan(right):
        return float(_GAMMA_GRID[0]), left * _AGGD_FACTOR_MIN, right * _AGGD_FACTOR_MIN
    gamma_hat = left / right
    r_hat = np.mean(np.abs(values)) ** 2 / np.mean(values**2)
    r_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    alpha = _GAMMA_GRID[np.argmin((_R_GAMMA - r_norm) ** 2)]
    factor = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * factor, right * factor


def _block_features(block: np.ndarray) -> list[float]:
    alpha, left, right = _aggd(block)
    features = [alpha, (left + right) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        alpha, left, right = _aggd(block * np.roll(block, shift, axis=(0, 1)))
        mean = (right - left) * gamma(2 / alpha) / gamma(1 / alpha)
        features += [alpha, mean, left, right]
    return features


def niqe_of_luma(luma: np.ndarray) -> float:
    """NIQE of a 2-D luma array on the 0-255 scale (at least 96x96); NaN where fewer than two of its 96x96 blocks
    have texture (a blank, black or blown-out frame), whose statistics NIQE cannot compare."""
    mean_pristine, cov_pristine, window = pristine_model()
    rows, cols = luma.shape[0] // BLOCK, luma.shape[1] // BLOCK
    if rows == 0 or cols == 0:
        raise ValueError(f"NIQE needs an image of at least {BLOCK}x{BLOCK} pixels, got {luma.shape[1]}x{luma.shape[0]}")
    image = luma[: rows * BLOCK, : cols * BLOCK].astype(np.float64)
    per_scale = []
    for scale in (1, 2):
        mu = convolve(image, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(image**2, window, mode="nearest") - mu**2))
        normalised = (image - mu) / (sigma + 1)
        size = BLOCK // scale
        blocks = [normalised[r * size : (r + 1) * size, c * size : (c + 1) * size]
                  for c in range(cols) for r in range(rows)]  # fmt: skip
        per_scale.append(np.array([_block_features(block) for block in blocks]))
        if scale == 1:
            image = matlab_halve(image / 255.0) * 255.0
    features = np.concatenate(per_scale, 1)
    complete = ~np.isnan(features).any(1)  # the blocks with texture
    if np.count_nonzero(complete) < 2:
        return math.nan  # fewer than two blocks with texture (a blank or clipped frame): no distribution to compare
    mean = np.nanmean(features, 0)
    covariance = np.cov(features[complete], rowvar=False)
    difference = mean_pristine - mean
    return float(np.sqrt(difference @ np.linalg.pinv((cov_pristine + covariance) / 2) @ difference))


@register_metric("niqe", "NIQE", higher_is_better=False)
def niqe(rgb: np.ndarray) -> float:
    """NIQE of an (H, W, 3) RGB image in [0, 1] (lower is better; NaN without texture, see :func:`niqe_of_luma`);
    see the module docstring for the convention."""
    return niqe_of_luma(np.round(matlab_y(np.asarray(rgb, np.float64))))
