"""Classical enhancers that need no training: identity, gamma, histogram equalisation, CLAHE and LIME.

Each is an ``nn.Module`` mapping (B, 3, H, W) float RGB in [0, 1] to the same, so it runs behind the same
:class:`lowface.Enhancer` interface as the networks. Histogram methods work on luma and scale RGB by the luma
gain, which keeps hue. ``receptive_radius`` is ``None`` for methods with global statistics (not tileable).
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.ndimage
import scipy.sparse
import scipy.sparse.linalg
import torch
from torch import Tensor

from lowface.models.base import EnhancementModel
from lowface.registry import MODELS

LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] -> (H, W) Rec.601 luma."""
    return rgb @ np.asarray(LUMA_WEIGHTS, dtype=rgb.dtype)


def apply_luma_gain(rgb: np.ndarray, old_luma: np.ndarray, new_luma: np.ndarray) -> np.ndarray:
    """Scale every channel by new_luma / old_luma (hue-preserving), clipped to [0, 1]."""
    gain = new_luma / np.maximum(old_luma, 1e-4)
    out = rgb * gain[..., None]
    dark = old_luma < 1e-4  # black pixels have no hue: give them the grey level directly
    out[dark] = new_luma[dark, None]
    return np.clip(out, 0.0, 1.0)


class NumpyImageOperator(EnhancementModel):
    """Base for per-image numpy operators: subclasses implement ``apply(rgb (H, W, 3) float64) -> same``."""

    receptive_radius: int | None = None
    size_multiple = 1

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        images = x.detach().permute(0, 2, 3, 1).cpu().double().numpy()
        out = np.stack([self.apply(np.clip(img, 0.0, 1.0)) for img in images])
        return torch.from_numpy(out).permute(0, 3, 1, 2).to(x)


@MODELS.register("identity")
class Identity(EnhancementModel):
    """Returns the input unchanged: the 'no enhancement' reference."""

    receptive_radius = 0
    size_multiple = 1

    def forward(self, x: Tensor) -> Tensor:
        return x.clone()


@MODELS.register("gamma")
class GammaCorrection(EnhancementModel):
    """out = x ** (1 / gamma), per channel. gamma=2.2 by default (seed 003's plain-gamma baseline)."""

    receptive_radius = 0
    size_multiple = 1

    def __init__(self, gamma: float = 2.2):
        super().__init__()
        if gamma <= 0:
            raise ValueError(f"gamma must be positive, got {gamma}")
        self.gamma = gamma

    def forward(self, x: Tensor) -> Tensor:
        return x.clamp(0.0, 1.0).pow(1.0 / self.gamma)


@MODELS.register("histogram_equalization")
class HistogramEqualization(NumpyImageOperator):
    """Global histogram equalisation of luma (``bins`` levels), applied to RGB as a per-pixel gain."""

    def __init__(self, bins: int = 256):
        super().__init__()
        self.bins = bins

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        y = luma(rgb)
        hist, edges = np.histogram(y, bins=self.bins, range=(0.0, 1.0))
        cdf = np.cumsum(hist).astype(np.float64)
        cdf_min = cdf[np.nonzero(cdf)[0][0]]
        if cdf[-1] == cdf_min:  # a flat image has nothing to equalise
            return rgb.copy()
        mapping = np.clip((cdf - cdf_min) / (cdf[-1] - cdf_min), 0.0, 1.0)
        centers = (edges[:-1] + edges[1:]) / 2
        return apply_luma_gain(rgb, y, np.interp(y, centers, mapping))


@MODELS.register("clahe")
class CLAHE(NumpyImageOperator):
    """Contrast-limited adaptive histogram equalisation (OpenCV) of 16-bit luma, applied as a gain."""

    def __init__(self, clip_limit: float = 2.0, tile_grid: int = 8):
        super().__init__()
        self.clip_limit = clip_limit
        self.tile_grid = tile_grid

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        y = luma(rgb)
        clahe = cv2.createCLAHE(clipLimit=self.clip_limit, tileGridSize=(self.tile_grid, self.tile_grid))
        equalized = clahe.apply(np.round(y * 65535).astype(np.uint16)).astype(np.float64) / 65535
        return apply_luma_gain(rgb, y, equalized)


def _forward_difference_matrices(height: int, width: int) -> tuple[scipy.sparse.csr_matrix, ...]:
    """Sparse D_h, D_v with (D x)[i] = x[i + step] - x[i] inside the image, 0 on the last column/row."""
    n = height * width
    index = np.arange(n).reshape(height, width)
    mats = []
    for src, dst in ((index[:, :-1], index[:, 1:]), (index[:-1, :], index[1:, :])):
        rows = np.concatenate([src.ravel(), src.ravel()])
        cols = np.concatenate([src.ravel(), dst.ravel()])
        vals = np.concatenate([-np.ones(src.size), np.ones(src.size)])
        mats.append(scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(n, n)))
    return mats[0], mats[1]


@MODELS.register("lime")
class LIME(NumpyImageOperator):
    """LIME (Guo, Li & Ling, TIP 2017): illumination map estimation with structure-aware refinement.

    T_hat = max over channels; T solves (Id + alpha * sum_d D_d^T diag(W_d / (|D_d T_hat| + eps)) D_d) t =
    t_hat with the strategy-III weights W_d = 1 / (|G_sigma * D_d T_hat| + eps); output R = S / T**gamma.
    The sparse system is solved at most at ``max_solve_pixels`` (the illumination is smooth; larger images
    are solved downscaled and the map upsampled bilinearly). No BM3D denoising step.
    """

    def __init__(
        self,
        alpha: float = 0.15,
        gamma: float = 0.8,
        sigma: float = 2.0,
        eps: float = 1e-3,
        max_solve_pixels: int = 400_000,
    ):
        super().__init__()
        self.alpha, self.gamma, self.sigma, self.eps = alpha, gamma, sigma, eps
        self.max_solve_pixels = max_solve_pixels

    def refine(self, t_hat: np.ndarray) -> np.ndarray:
        """(h, w) initial illumination -> structure-aware refined illumination, same shape."""
        h, w = t_hat.shape
        d_h, d_v = _forward_difference_matrices(h, w)
        t = t_hat.ravel()
        system = scipy.sparse.identity(h * w, format="csr")
        for d in (d_h, d_v):
            grad = (d @ t).reshape(h, w)
            smoothed = scipy.ndimage.gaussian_filter(grad, self.sigma, truncate=2.0)
            weight = 1.0 / (np.abs(smoothed) + self.eps) / (np.abs(grad) + self.eps)
            system = system + self.alpha * (d.T @ scipy.sparse.diags(weight.ravel()) @ d)
        return scipy.sparse.linalg.spsolve(system.tocsc(), t).reshape(h, w)

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        t_hat = rgb.max(axis=2)
        height, width = t_hat.shape
        factor = min(1.0, (self.max_solve_pixels / (height * width)) ** 0.5)
        if factor < 1.0:
            small = (max(1, round(width * factor)), max(1, round(height * factor)))
            refined = self.refine(cv2.resize(t_hat, small, interpolation=cv2.INTER_AREA))
            refined = cv2.resize(refined, (width, height), interpolation=cv2.INTER_LINEAR)
        else:
            refined = self.refine(t_hat)
        illumination = np.clip(refined, self.eps, 1.0) ** self.gamma
        return np.clip(rgb / illumination[..., None], 0.0, 1.0)
