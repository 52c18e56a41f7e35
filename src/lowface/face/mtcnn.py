"""MTCNN face detector (Zhang et al. 2016): a cascade of three small CNNs, boxes + 5 landmarks + scores.

The networks are written here; their weights are the files ``pnet.pt``, ``rnet.pt``, ``onet.pt`` inside the
PyPI ``facenet-pytorch`` 2.6.0 wheel (MIT), read as plain state dicts with ``weights_only=True``. The cascade
follows the paper: an image pyramid (factor 0.709, smallest face 20 px) scanned by P-Net, candidate boxes
refined by R-Net on 24x24 and O-Net on 48x48 crops (out-of-image parts zero-padded), with bounding-box
regression, square boxes and non-maximum suppression between stages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.face.packages import packaged_file


class PNet(nn.Module):
    """12x12 proposal network, fully convolutional: (B, 3, H, W) -> face probability and box offsets maps."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return F.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


def _flatten_caffe_order(x: Tensor) -> Tensor:
    """Flatten (B, C, H, W) in the (W, H, C) order the converted dense weights expect."""
    return x.permute(0, 3, 2, 1).flatten(1)


class RNet(nn.Module):
    """24x24 refinement network: (B, 3, 24, 24) -> probability (B,), box offsets (B, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu4(self.dense4(_flatten_caffe_order(self.prelu3(self.conv3(x)))))
        return F.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """48x48 output network: (B, 3, 48, 48) -> probability (B,), box offsets (B, 4), landmarks (B, 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu5(self.dense5(_flatten_caffe_order(self.prelu4(self.conv4(x)))))
        return F.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x), self.dense6_3(x)


@dataclass(frozen=True)
class Detection:
    """One face: box (x1, y1, x2, y2) in pixels, landmarks (5, 2) as (x, y) - left eye, right eye (in the
    image), nose, left and right mouth corners - and a score in [0, 1]."""

    box: np.ndarray
    landmarks: np.ndarray
    score: float


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best first. ``mode`` 'min' divides by the smaller area."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order, keep = np.argsort(-scores), []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        denominator = np.minimum(areas[i], areas[rest]) if mode == "min" else areas[i] + areas[rest] - inter
        order = rest[inter / denominator <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    w, h = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
    return boxes + offsets * np.stack([w, h, w, h], axis=1)


def _square(boxes: np.ndarray) -> np.ndarray:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1, y1 = boxes[:, 0] + w / 2 - side / 2, boxes[:, 1] + h / 2 - side / 2
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1)


def _proper(boxes: np.ndarray) -> np.ndarray:
    """Which boxes still have a side of a pixel or more: a strong negative regression offset can turn a box
    inside out, and such a box is no face (nor anything to crop)."""
    return (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)


def _crops(image: Tensor, boxes: np.ndarray, size: int) -> Tensor:
    """Crop integer boxes out of a (3, H, W) image (zero-padded outside it) and resize to size x size."""
    _, height, width = image.shape
    out = []
    for x1, y1, x2, y2 in np.round(boxes).astype(int):
        patch = image.new_zeros(3, y2 - y1 + 1, x2 - x1 + 1)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width - 1), min(y2, height - 1)
        if sx2 >= sx1 and sy2 >= sy1:
            patch[:, sy1 - y1 : sy2 - y1 + 1, sx1 - x1 : sx2 - x1 + 1] = image[:, sy1 : sy2 + 1, sx1 : sx2 + 1]
        out.append(F.interpolate(patch[None], size=(size, size), mode="area"))
    return torch.cat(out)


class MTCNN(nn.Module):
    """The three-stage detector. ``detect`` takes one (3, H, W) RGB image in [0, 1]."""

    def __init__(
        self,
        min_face: int = 20,
        factor: float = 0.709,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        weights_dir: str | Path | None = None,
    ):
        super().__init__()
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        self.min_face, self.factor, self.thresholds = min_face, factor, thresholds
        for name in ("pnet", "rnet", "onet"):
            path = Path(weights_dir) / f"{name}.pt" if weights_dir else packaged_file(f"mtcnn_{name}")
            getattr(self, name).load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def detect(self, image: Tensor) -> list[Detection]:
        """(3, H, W) RGB in [0, 1] -> faces, best score first."""
        x = (image.float() * 255.0 - 127.5) * 0.0078125
        height, width = x.shape[-2:]
        scale, boxes = 12.0 / self.min_face, []
        while min(height, width) * scale >= 12:
            scaled = F.interpolate(x[None], size=(math.ceil(height * scale), math.ceil(width * scale)), mode="area")
            prob, offsets = self.pnet(scaled)
            ys, xs = np.nonzero(prob[0].numpy() >= self.thresholds[0])
            if ys.size:
                cells = np.stack([xs, ys], axis=1).astype(np.float64)
                candidates = np.concatenate(
                    [
                        np.floor((2 * cells + 1) / scale),
                        np.floor((2 * cells + 12) / scale),
                        prob[0].numpy()[ys, xs, None],
                        offsets[0].numpy()[:, ys, xs].T,
                    ],
                    axis=1,
                )
                boxes.append(candidates[nms(candidates[:, :4], candidates[:, 4], 0.5)])
            scale *= self.factor
        if not boxes:
            return []
        found = np.concatenate(boxes)
        found = found[nms(found[:, :4], found[:, 4], 0.7)]
        candidates = _square(_regress(found[:, :4], found[:, 5:9]))
        candidates = candidates[_proper(candidates)]
        if not len(candidates):
            return []
        # R-Net
        prob, offsets = self.rnet(_crops(x, candidates, 24))
        keep = prob.numpy() >= self.thresholds[1]
        candidates, scores, offsets = candidates[keep], prob.numpy()[keep], offsets.numpy()[keep]
        if not len(candidates):
            return []
        kept = nms(candidates, scores, 0.7)
        candidates = _square(_regress(candidates[kept], offsets[kept]))
        candidates = candidates[_proper(candidates)]
        if not len(candidates):
            return []
        # O-Net
        prob, offsets, points = self.onet(_crops(x, candidates, 48))
        keep = prob.numpy() >= self.thresholds[2]
        candidates, scores = candidates[keep], prob.numpy()[keep]
        offsets, points = offsets.numpy()[keep], points.numpy()[keep]
        if not len(candidates):
            return []
        w = (candidates[:, 2] - candidates[:, 0] + 1)[:, None]
        h = (candidates[:, 3] - candidates[:, 1] + 1)[:, None]
        landmarks = np.stack([candidates[:, :1] + w * points[:, :5], candidates[:, 1:2] + h * points[:, 5:]], axis=2)
        final = _regress(candidates, offsets)
        kept = nms(final, scores, 0.7, mode="min")
        return [Detection(final[i], landmarks[i], float(scores[i])) for i in kept]
