"""Temporal noise reduction for video (`lowface enhance --temporal-denoise`), from a still or a moving camera.

Brightening a dark frame multiplies its sensor noise, and fresh noise in every frame reads as a shimmering
picture. A motion-compensated recursive filter - the temporal noise reduction of camera pipelines - averages each
pixel over past frames along its motion and follows the new frame wherever that fails; it runs on the dark input,
before enhancement, so the enhancer sees less noise:

    state <- warp(state) + k * (frame - warp(state)),   k = 1 / strength where |frame - warp(state)| is consistent
                                                        with noise, k = 1 where it is at least twice that (no ghost).

``warp`` (:class:`MotionCompensation`) moves the state onto the new frame: by the camera's motion (an affine motion
fitted to OpenCV's DIS optical flow between both frames' luma, brightened and downscaled to at most ``FLOW_WIDTH``
pixels; none when it explains the frame no better than standing still) everywhere, and by the local flow where that
explains the new frame clearly better (a person walking). In flat or noise-dominated regions the local flow follows
the noise, and a past resampled at random places would shimmer. Without ``warp`` (the filter until 2026-12-06,
``motion=False``) a panning camera left every textured pixel "moving" and smeared it. Pixels whose past lies
outside the picture, and those where the motion is still wrong (occlusions, a face turning), fail the test and take
the new frame. The test for motion is the local mean absolute difference over a 5x5 window and the three channels,
against the noise level sigma. Sigma is measured from the frame differences themselves, not from one frame's
spatial detail (video compression smooths noise spatially but not in time): the 10th percentile of the mean
absolute difference over 16x16 blocks - the static, flat part of the picture - smoothed over frames.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lowface.filters import LUMA

BLOCK = 16
MEAN_ABS_PER_SIGMA = math.sqrt(2 / math.pi)  # E|n| / sigma for Gaussian n
FLOW_WIDTH = 480  # the flow is estimated at most this wide (1080p: a quarter), where noise is averaged 4x4 down


def difference_sigma(difference: Tensor) -> Tensor:
    """(B, C, H, W) frame difference -> (B,) standard deviation of its noise: the 10th percentile over 16x16
    blocks of the mean absolute difference (static regions), over E|n| / sigma of a Gaussian."""
    return _block_sigma(difference.abs().mean(1, keepdim=True), None)


def _block_sigma(deviation: Tensor, inside: Tensor | None) -> Tensor:
    """:func:`difference_sigma` from the (B, 1, H, W) mean absolute difference over the channels; ``inside`` (B, 1,
    H, W) bool, where given: only blocks wholly inside it count (the rest had no past to compare with)."""
    block = min(BLOCK, *deviation.shape[-2:])
    means = F.avg_pool2d(deviation, block).flatten(1)
    if inside is not None:
        whole = F.avg_pool2d(inside.float(), block).flatten(1) == 1.0
        means = means.masked_fill(~whole, math.nan)  # (no block wholly inside: NaN)
    return torch.nanquantile(means, 0.1, dim=1) / MEAN_ABS_PER_SIGMA


def _box_mean(x: Tensor, size: int) -> Tensor:
    """(1, 1, H, W) -> the mean over a ``size`` x ``size`` window round each pixel, same shape (on a CPU OpenCV's box
    filter, a tenth of ``avg_pool2d``'s time; the two differ only within ``size // 2`` pixels of the border)."""
    if x.device.type != "cpu":
        return F.avg_pool2d(x, size, stride=1, padding=size // 2, count_include_pad=False)
    return torch.from_numpy(cv2.blur(x[0, 0].numpy(), (size, size)))[None, None]


def _sampling_maps(flow: np.ndarray, scale: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's remap maps (columns, rows), each (h, w) float32, of pixels moved by ``flow`` (h, w, 2), its x and y
    first multiplied by ``scale``."""
    height, width = flow.shape[:2]
    columns = np.arange(width, dtype=np.float32)[None, :] + flow[..., 0] * np.float32(scale[0])
    rows = np.arange(height, dtype=np.float32)[:, None] + flow[..., 1] * np.float32(scale[1])
    return columns, rows


def _ramp(value: float, band: tuple[float, float]) -> float:
    """0 at or below ``band``'s low end, 1 at or above its high end, linear between: the smooth choices of the filter
    (a hard switch would let two runs that started at different frames decide differently)."""
    low, high = band
    return min(max((value - low) / (high - low), 0.0), 1.0)


def _planes(x: Tensor) -> np.ndarray:
    """(1, C, H, W) float32 CPU tensor -> its (C, H, W) array, shared."""
    return x[0].contiguous().numpy()


class MotionCompensation:
    """Moves a past frame onto the next one along their dense optical flow (OpenCV DIS).

    ``__call__(frame, past)``, both (1, 3, H, W) float32 in [0, 1] -> (past warped onto frame, (1, 1, H, W) bool:
    where the warped pixel came from inside the picture)."""

    # chosen on SICE train clips (benchmarks/temporal_motion.py): DIS's medium preset +0.9 dB over fast (+1.8 on the
    # walking face), bicubic resampling of the past +0.4 dB over bilinear on moving clips (less blur piled up)
    PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    INTERPOLATION = cv2.INTER_CUBIC
    FLOW_BLUR = 1.0  # flow pixels: a Gaussian on the raw frames' luma (SICE train clips: +0.2-0.5 dB, and +0.4 still)

    # where the local flow replaces the camera's: its warping residual (box mean over RESIDUAL_BOX flow pixels) at
    # least LOCAL_GAIN[0] times smaller than the camera motion's, wholly from LOCAL_GAIN[1] times (a face walking)
    RESIDUAL_BOX = 9
    LOCAL_GAIN = (1.1, 1.4)
    # the camera is taken to move when its motion explains the whole frame 15 % better than none, not at all below 5 %
    CAMERA_GAIN = (1.05, 1.15)
    GRID = 8  # flow pixels between the samples the camera motion is fitted to
    FIT_ROUNDS = 6

    def __init__(self):
        self.flow = cv2.DISOpticalFlow_create(self.PRESET)
        self.last: np.ndarray | None = None

    @staticmethod
    def small_luma(x: Tensor, size: tuple[int, int]) -> np.ndarray:
        """(1, 3, H, W) -> (h, w) float32 BT.601 luma, area-downscaled to ``size`` (w, h) plane by plane."""
        planes = [cv2.resize(plane, size, interpolation=cv2.INTER_AREA) for plane in _planes(x)]
        grey = sum(w * p for w, p in zip(LUMA, planes, strict=True))
        return cv2.GaussianBlur(grey, (0, 0), MotionCompensation.FLOW_BLUR)

    def camera_flow(self, flow: np.ndarray) -> np.ndarray:
        """The (h, w, 2) flow of the camera: an affine motion fitted to ``flow`` on a grid of samples by iteratively
        reweighted least squares (Tukey's biweight: a person walking does not pull it) - deterministic, unlike
        RANSAC's random draws, and its sums in NumPy's own loops, not a threaded BLAS's, so that a video comes out
        the same in every run, with any number of threads and on every Ray worker."""
        height, width = flow.shape[:2]
        rows, columns = np.mgrid[self.GRID // 2 : height : self.GRID, self.GRID // 2 : width : self.GRID]
        design = np.stack([columns.ravel(), rows.ravel(), np.ones(columns.size)], 1)  # (N, 3)
        target = flow[rows.ravel(), columns.ravel()].astype(np.float64)  # (N, 2)
        weights = np.ones(len(target))
        affine = np.zeros((3, 2))
        for _ in range(self.FIT_ROUNDS):
            if weights.sum() < 3:  # (no samples left to fit)
                break
            normal = np.einsum("n,ni,nj->ij", weights, design, design, optimize=False)
            moments = np.einsum("n,ni,nk->ik", weights, design, target, optimize=False)
            affine = np.linalg.solve(normal + 1e-9 * np.eye(3), moments)  # flow = design @ affine
            error = np.linalg.norm(target - design @ affine, axis=1)
            scale = max(4.685 * 1.4826 * float(np.median(error)), 0.5)  # Tukey's c times a robust spread
            weights = np.clip(1.0 - (error / scale) ** 2, 0.0, None) ** 2
        grid_columns, grid_rows = np.meshgrid(np.arange(width), np.arange(height))
        return (grid_columns[..., None] * affine[0] + grid_rows[..., None] * affine[1] + affine[2]).astype(np.float32)

    def _residual(self, now: np.ndarray, before: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """Box mean of |now - before warped along flow| (all (h, w) float32)."""
        warped = cv2.remap(before, *_sampling_maps(flow), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.blur(np.abs(now - warped), (self.RESIDUAL_BOX,) * 2)

    def remember(self, frame: Tensor) -> None:
        """Take (1, 3, H, W) ``frame`` as the last frame seen (a stream's first, or the first after a cut)."""
        self.last = self.small_luma(frame.cpu(), self.flow_size(*frame.shape[-2:]))

    @staticmethod
    def flow_size(height: int, width: int) -> tuple[int, int]:
        """(w, h) of the images the flow is estimated on: at most FLOW_WIDTH wide, an integer downscale."""
        scale = max(1, math.ceil(width / FLOW_WIDTH))
        return max(1, round(width / scale)), max(1, round(height / scale))

    def __call__(self, frame: Tensor, past: Tensor) -> tuple[Tensor, Tensor]:
        """``past`` (the filter's state, on the last frame's grid) moved onto ``frame``'s along the motion between
        the last frame seen (:meth:`remember`, or the last call's) and ``frame`` - the raw frames, not the state, so
        that the motion depends on the video alone: two runs that start at different frames (Ray's segments)
        settle on the same outputs."""
        device, (height, width) = frame.device, frame.shape[-2:]
        frame, past = frame.cpu(), past.cpu()  # (OpenCV's: a GPU's frames come and go back)
        size = self.flow_size(height, width)
        now, before = self.small_luma(frame, size), self.last
        self.last = now
        # brightened by one gain (the last frame's 99th percentile to white) and a square root: dark frames' structure
        # spread over the 8 bits that DIS reads
        gain = 1.0 / max(float(np.percentile(before, 99)), 1e-3)
        now, before = (np.sqrt(np.clip(g * gain, 0.0, 1.0)) * 255 for g in (now, before))
        flow = self.flow.calc(*(np.round(g).astype(np.uint8) for g in (now, before)), None)  # now(x) ~ before(x + flow)
        # The camera's motion everywhere, the local flow only where it explains the new frame clearly better: in flat
        # or noise-dominated regions DIS's flow follows the noise, and a past resampled at random places shimmers.
        camera = self.camera_flow(flow)
        residual = self._residual(now, before, camera)
        still = cv2.blur(np.abs(now - before), (self.RESIDUAL_BOX,) * 2)
        # a camera that does not move: none fitted to noise (a share, not a switch: every choice here is smooth)
        share = _ramp(float(still.mean()) / max(float(residual.mean()), 1e-6), self.CAMERA_GAIN)
        if share < 1.0:
            camera = camera * np.float32(share)
            residual = self._residual(now, before, camera) if share > 0.0 else still
        ratio = residual / np.maximum(self._residual(now, before, flow), 1e-3)
        low, high = self.LOCAL_GAIN
        local = np.clip((ratio - low) / (high - low), 0.0, 1.0)[..., None]
        flow = camera + local * (flow - camera)
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        columns, rows = _sampling_maps(flow, (width / size[0], height / size[1]))
        warped = np.stack([cv2.remap(plane, columns, rows, self.INTERPOLATION, borderMode=cv2.BORDER_REPLICATE)
                           for plane in _planes(past)])  # fmt: skip
        np.clip(warped, 0.0, 1.0, out=warped)  # (bicubic overshoots at edges; the state stays an image in [0, 1])
        inside = (columns >= 0) & (columns <= width - 1) & (rows >= 0) & (rows <= height - 1)
        return torch.from_numpy(warped)[None].to(device), torch.from_numpy(inside)[None, None].to(device)


class TemporalDenoiser:
    """Call once per frame, in order: (1, 3, H, W) in [0, 1] -> the filtered frame, same shape and range.

    ``strength``: how many frames a static pixel is averaged over at most (the recursive weight is 1/strength;
    the noise standard deviation of a static scene drops by about sqrt(2 * strength - 1)). ``motion``: follow the
    camera's and the scene's motion (:class:`MotionCompensation`; False: average in place, the filter until
    2026-12-06, for a camera that never moves). The first frame, every frame after a change of size and the first
    frame after a cut to another scene (``CUT``) pass unchanged. Two runs that start at different frames of a video
    settle on the same outputs: the motion is measured between the raw frames, and every choice is a smooth one.
    """

    # A cut: even the best-matching 10 % of the picture differs from the past by CUT[1] times the noise level measured
    # so far (wholly a cut), CUT[0] times (not at all), smoothly between - a hard threshold would make two runs that
    # started at different frames (Ray's segments) decide differently where the evidence is borderline
    CUT = (1.5, 2.2)

    def __init__(self, strength: float = 8.0, sigma_momentum: float = 0.8, motion: bool = True):
        if strength < 1:
            raise ValueError(f"strength must be >= 1, got {strength}")
        self.min_weight = 1.0 / strength
        self.sigma_momentum = sigma_momentum
        self.motion = MotionCompensation() if motion else None
        self.reset()

    def reset(self) -> None:
        self.state: Tensor | None = None
        self.sigma: Tensor | None = None

    @torch.no_grad()
    def __call__(self, frame: Tensor) -> Tensor:
        if frame.ndim != 4 or frame.shape[0] != 1:
            raise ValueError(f"expected one frame, a (1, 3, H, W) tensor, got {tuple(frame.shape)}")
        x = frame.float()
        if self.state is None or self.state.shape != x.shape:
            self.state, self.sigma = x.clone(), None
            if self.motion is not None:
                self.motion.remember(x)
            return frame
        past, inside = self.motion(x, self.state) if self.motion is not None else (self.state, None)
        difference = x - past
        deviation = difference.abs().mean(1, keepdim=True)
        # the state's own noise: that of a raw frame right after a restart, about a 1/(2 strength - 1) variance later
        state_variance = 1.0 if self.sigma is None else self.min_weight / (2 - self.min_weight)
        sigma = _block_sigma(deviation, inside) / math.sqrt(1 + state_variance)
        if sigma.isnan().any():  # (no block wholly inside the picture: this frame's own level is unknown)
            sigma = self.sigma if self.sigma is not None else torch.zeros_like(sigma)
        cut = 0.0
        if self.sigma is not None:
            cut = _ramp(float(sigma / self.sigma.clamp_min(1e-4)), self.CUT)
            if cut == 1.0:
                self.state = x.clone()  # a cut to another scene: its first frame as it is, no ghost of the last one
                return frame
            sigma = torch.lerp(sigma, self.sigma, cut)  # (the level across a cut is not the noise's)
        m = self.sigma_momentum
        self.sigma = sigma if self.sigma is None else m * self.sigma + (1 - m) * sigma
        expected = (MEAN_ABS_PER_SIGMA * math.sqrt(1 + state_variance)) * self.sigma.clamp_min(1e-4)
        local = _box_mean(deviation, 5)
        # 0 while the local difference is within 1.25x of what noise alone gives, 1 from 2.5x on (motion)
        motion = local.div_(1.25 * float(expected)).sub_(1.0).clamp_(0.0, 1.0)
        if inside is not None:
            motion.masked_fill_(~inside, 1.0)  # no past there: the new frame
        weight = motion.mul_(1.0 - self.min_weight).add_(self.min_weight).clamp_(min=cut)
        self.state = difference.mul_(weight).add_(past)
        return self.state.to(frame.dtype)
