"""Differentiable face alignment: affine warps by grid sampling, so gradients reach the image.

A transform here is a (2, 3) matrix mapping *chip* pixel coordinates (x, y) to *image* pixel coordinates
(pixel centres at integer positions). ``warp`` samples the image at those points bilinearly.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

# dlib's 5-point mean face (right eye outer/inner, left eye outer/inner, nose bottom), unit square.
DLIB_FIVE_POINT_TEMPLATE = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src (N, 2) onto dst (N, 2),
    as a (2, 3) matrix (Umeyama 1991)."""
    mu_src, mu_dst = src.mean(0), dst.mean(0)
    s, d = src - mu_src, dst - mu_dst
    u, sigma, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(sigma) @ sign) / (s**2).sum() * len(src)
    return np.hstack([scale * rotation, (mu_dst - scale * rotation @ mu_src)[:, None]])


def dlib_chip_transform(landmarks: np.ndarray, size: int = 150, padding: float = 0.25) -> np.ndarray:
    """Chip-to-image (2, 3) transform reproducing ``dlib.get_face_chip(img, shape, size, padding)`` for the
    5 landmarks of dlib's ``shape_predictor_5_face_landmarks`` (checked against dlib: same pixels up to
    dlib's 8-bit rounding)."""
    chip_points = (DLIB_FIVE_POINT_TEMPLATE + padding) / (2 * padding + 1) * size
    fit = similarity_fit(chip_points, np.asarray(landmarks, float))  # chip -> image, dlib's direction
    scale = np.hypot(fit[0, 0], fit[1, 0])
    rotation = fit[:, :2] / scale
    centre = fit @ np.array([size / 2, size / 2, 1.0])
    linear = rotation * ((size * scale - 1) / (size - 1))  # dlib's chip rectangle spans width - 1 pixels
    offset = centre - linear @ np.array([(size - 1) / 2, (size - 1) / 2])
    return np.hstack([linear, offset[:, None]])


def box_crop_transform(box: np.ndarray, size: int, margin: float = 0.0) -> np.ndarray:
    """Axis-aligned crop of a box (x1, y1, x2, y2) grown by ``margin`` pixels in total per axis, resized to
    size x size (FaceNet's crop), as a chip-to-image (2, 3) transform."""
    x1, y1, x2, y2 = np.asarray(box, float) + np.array([-margin / 2, -margin / 2, margin / 2, margin / 2])
    sx, sy = (x2 - x1) / size, (y2 - y1) / size
    return np.array([[sx, 0.0, x1 + sx / 2 - 0.5], [0.0, sy, y1 + sy / 2 - 0.5]])


def warp(images: Tensor, chip_to_image: Tensor, size: int | tuple[int, int]) -> Tensor:
    """Sample (B, C, H, W) images at chip pixels: chip_to_image (B, 2, 3) -> (B, C, h, w); zeros outside.

    Differentiable with respect to the images (and the transforms).
    """
    h, w = (size, size) if isinstance(size, int) else size
    height, width = images.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=images.dtype, device=images.device),
        torch.arange(w, dtype=images.dtype, device=images.device),
        indexing="ij",
    )
    chip = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(1, -1, 3)
    points = chip @ chip_to_image.to(images).transpose(1, 2)  # (B, h*w, 2) image pixel coordinates
    grid = torch.stack([(points[..., 0] + 0.5) / width * 2 - 1, (points[..., 1] + 0.5) / height * 2 - 1], -1)
    return F.grid_sample(images, grid.reshape(-1, h, w, 2), mode="bilinear", padding_mode="zeros", align_corners=False)
