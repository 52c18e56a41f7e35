"""Training datasets: unpaired low-light crops with normal-light positives and low-light negatives, plus the
parsing labels and face alignments of the semantic and face-recognition modules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from lowface.data.lights import add_lights
from lowface.data.synth import SYNTHESIS_PRESETS, darken_linear, degrade, plan_linear_darkening, synthesize
from lowface.io import read_image


@dataclass(frozen=True)
class FaceTargets:
    """Per training image (same order as the paths): the recognizer's chip-to-image transform (N, 2, 3)
    measured on the clean image, whether a face was detected (N,), and the identity index (N,)."""

    chip_transforms: np.ndarray
    detected: np.ndarray
    identities: np.ndarray
    chip_size: int


class UnpairedLowLightDataset(Dataset):
    """Item i: a darkened crop "low" of image i, a crop of a random other clean image ("positive") and of a
    random other darkened image ("negative"), all (3, crop, crop) float tensors in [0, 1]; with ``labels``
    also "labels" (crop, crop) int64 parsing classes of the low crop (-1 where the image has none); with
    ``faces`` also "chip_transform" (2, 3) in crop pixels, "identity" () int64 and "face_valid" () bool;
    always "clean", the clean crop that "low" was made from (for paired losses on synthetic data).

    Darkening: ``synthesis`` names a preset of ``lowface.data.synth.SYNTHESIS_PRESETS``; without one,
    Algorithm 1 over the whole set with ``ratio_range`` and optional ``target_brightness``. Set presets
    (Algorithm 1) darken each image once; per-image presets (noise models) darken each crop afresh per
    (epoch, index), so the network never sees the same noise twice. Seeded: the same seed gives the same
    data. With faces, crops are placed so the recognizer's chip lies inside
    when it fits. Crops and partners are drawn per (epoch, index), so a resumed run sees the same data.

    ``zoom`` (low, high): each image is first scaled by a factor drawn uniformly from it (at least what keeps it as
    large as the crop; area interpolation, the face alignment and parsing labels scaled with it), so that faces
    come at several sizes, as in ordinary photos; a per-image preset then degrades the crop at that size (a small
    face gets the full noise, as from a sensor). Needs a per-image preset: a darkened set is made once, full size.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        crop: int = 128,
        ratio_range: tuple[float, float] = (0.1, 0.5),
        target_brightness: float | None = None,
        seed: int = 0,
        synthesis: str | None = None,
        labels: Sequence[np.ndarray | None] | None = None,
        faces: FaceTargets | None = None,
        zoom: tuple[float, float] = (1.0, 1.0),
    ):
        if not 0 < zoom[0] <= zoom[1] <= 1:
            raise ValueError(f"zoom must be (low, high) with 0 < low <= high <= 1 (faces made smaller), got {zoom}")
        images = [read_image(p).rgb for p in paths]
        kept = [i for i, im in enumerate(images) if im.shape[0] >= crop and im.shape[1] >= crop]
        if not kept:
            raise ValueError(f"no training image is at least {crop}x{crop}")
        self.clean = [images[i] for i in kept]
        if synthesis is not None and synthesis not in SYNTHESIS_PRESETS:
            raise KeyError(f"unknown synthesis preset {synthesis!r}; available: {sorted(SYNTHESIS_PRESETS)}")
        self.synthesis = synthesis if synthesis and SYNTHESIS_PRESETS[synthesis].kind != "linear" else None
        self.dark: list[np.ndarray] | None = None
        if synthesis is None:
            plan = plan_linear_darkening(self.clean, ratio_range, target_brightness, seed=seed)
            self.dark = [darken_linear(im, r).astype(np.float32) for im, r in zip(self.clean, plan.ratios, strict=True)]
        elif self.synthesis is None:
            self.dark = [d.astype(np.float32) for d in synthesize(self.clean, synthesis, seed)[0]]
        self.labels = [labels[i] for i in kept] if labels is not None else None
        self.faces = faces
        self.kept, self.crop, self.seed, self.epoch = kept, crop, seed, 0
        self.zoom = tuple(zoom)
        if self.zoom != (1.0, 1.0) and self.synthesis is None:
            raise ValueError(f"zoom {self.zoom} needs a per-image synthesis preset (noise added after the scaling), "
                             f"not {synthesis!r}")  # fmt: skip

    def __len__(self) -> int:
        return len(self.clean)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _window(self, transform: np.ndarray | None, shape: tuple[int, int],
                rng: np.random.Generator) -> tuple[int, int]:  # fmt: skip
        """Top-left corner of the crop of an image of ``shape``: uniform, or containing the face chip (placed by
        ``transform``) if possible."""
        h, w = shape
        top_range, left_range = (0, h - self.crop), (0, w - self.crop)
        if transform is not None:
            size = self.faces.chip_size - 1
            corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], float)
            points = corners @ transform.T
            (x1, y1), (x2, y2) = points.min(0), points.max(0)
            top_range = _range_containing(y1, y2, self.crop, h)
            left_range = _range_containing(x1, x2, self.crop, w)
        return int(rng.integers(top_range[0], top_range[1] + 1)), int(rng.integers(left_range[0], left_range[1] + 1))

    def _crop(self, image: np.ndarray, top: int, left: int, flip: bool) -> Tensor:
        patch = image[top : top + self.crop, left : left + self.crop]
        patch = patch[:, ::-1] if flip else patch
        return torch.from_numpy(np.ascontiguousarray(patch))

    def _low(self, index: int, top: int, left: int, flip: bool, rng: np.random.Generator,
             clean_image: np.ndarray | None = None) -> Tensor:  # fmt: skip
        """The darkened (3, crop, crop) crop of image ``index`` (or of its scaled ``clean_image``): from the darkened
        set, or degraded now."""
        if self.dark is not None:
            return self._crop(self.dark[index], top, left, flip).permute(2, 0, 1)
        clean = self._crop(self.clean[index] if clean_image is None else clean_image, top, left, flip).numpy()
        return torch.from_numpy(degrade(clean, self.synthesis, rng)[0].astype(np.float32)).permute(2, 0, 1)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        n = len(self)
        positive, negative = (int(index + rng.integers(1, n)) % n for _ in range(2))
        image, labels = self.clean[index], self.labels[index] if self.labels is not None else None
        transform = self.faces.chip_transforms[self.kept[index]].copy() if self.faces is not None else None
        if self.zoom != (1.0, 1.0):
            image, labels, transform = self._zoomed(image, labels, transform, rng)
        top, left = self._window(transform, image.shape[:2], rng)
        flip = bool(rng.random() < 0.5)
        item = {"low": self._low(index, top, left, flip, rng, image)}
        for key, other in (("positive", positive), ("negative", negative)):
            o_top, o_left = (int(rng.integers(0, s - self.crop + 1)) for s in self.clean[other].shape[:2])
            o_flip = bool(rng.random() < 0.5)
            if key == "positive":
                item[key] = self._crop(self.clean[other], o_top, o_left, o_flip).permute(2, 0, 1)
            else:
                item[key] = self._low(other, o_top, o_left, o_flip, rng)
        item["clean"] = self._crop(image, top, left, flip).permute(2, 0, 1)
        item["exposure_fixed"] = torch.tensor(True)  # the clean image's own exposure is the target
        if self.labels is not None:
            if labels is None:
                item["labels"] = torch.full((self.crop, self.crop), -1, dtype=torch.int64)
            else:
                item["labels"] = self._crop(labels, top, left, flip).long()
        if self.faces is not None:
            source = self.kept[index]
            transform[:, 2] -= (left, top)
            if flip:  # x -> (crop - 1) - x: the chip sees the same (un-mirrored) face
                transform[0] = -transform[0]
                transform[0, 2] += self.crop - 1
            item["chip_transform"] = torch.from_numpy(transform.astype(np.float32))
            item["identity"] = torch.tensor(int(self.faces.identities[source]))
            item["face_valid"] = torch.tensor(bool(self.faces.detected[source]))
        return item

    def _zoomed(self, image: np.ndarray, labels: np.ndarray | None, transform: np.ndarray | None,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:  # fmt: skip
        """``image`` (H, W, 3), its parsing ``labels`` (H, W) and its chip-to-image ``transform`` (2, 3) scaled by a
        factor drawn from ``zoom`` (no smaller than the crop allows)."""
        height, width = image.shape[:2]
        factor = max(float(rng.uniform(*self.zoom)), self.crop / min(height, width))
        if factor >= 1.0:
            return image, labels, transform
        size = (max(self.crop, round(width * factor)), max(self.crop, round(height * factor)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        if labels is not None:
            labels = cv2.resize(labels.astype(np.int16), size, interpolation=cv2.INTER_NEAREST).astype(labels.dtype)
        if transform is not None:  # pixel centres: x -> (x + 0.5) s - 0.5
            scale = np.array([[size[0] / width], [size[1] / height]])
            transform = transform * scale
            transform[:, 2:] += 0.5 * (scale - 1.0)
        return image, labels, transform


def _range_containing(low: float, high: float, crop: int, size: int) -> tuple[int, int]:
    """Crop starts in [0, size - crop] whose window [start, start + crop) contains [low, high], or the start
    centring the window on it when it does not fit."""
    first, last = int(np.ceil(high)) - crop + 1, int(np.floor(low))
    first, last = max(first, 0), min(last, size - crop)
    if first <= last:
        return first, last
    centre = round(float((low + high) / 2 - crop / 2))
    start = min(max(centre, 0), size - crop)
    return start, start


class RealPairsDataset(Dataset):
    """Real low-light pairs (e.g. SICE's under-exposed frames and their scene's reference, see
    ``lowface.data.sice``) as items of :class:`UnpairedLowLightDataset`'s form: "low" a crop of the dark frame,
    "clean" the same crop of the reference, "positive" a crop of another pair's reference and "negative" a crop
    of another pair's dark frame. Items carry no parsing labels (all -1) and no face (``face_valid`` False), so
    the semantic and face terms skip them; ``labels`` / ``faces`` say whether to include those keys, to match
    the dataset they are mixed with. Crops are drawn per (epoch, index), seeded. "exposure_fixed" () bool is
    False with ``exposure_free``: the reference's exposure was the photographer's choice, so the paired terms
    compare the structure after matching its brightness to the output's (losses/objective.py). With probability
    ``lights`` an item's pair gets light sources painted in (``lowface.data.lights.add_lights``), the signal
    against dark rings round lamps.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str | Path, str | Path]],
        crop: int = 128,
        seed: int = 0,
        labels: bool = False,
        faces: bool = False,
        exposure_free: bool = False,
        lights: float = 0.0,
    ):
        if not pairs:
            raise ValueError("no real pairs given")
        references: dict[str, np.ndarray] = {}
        for _, reference in pairs:
            references.setdefault(str(reference), read_image(reference).rgb)
        self.dark = [read_image(d).rgb for d, _ in pairs]
        self.reference = [references[str(r)] for _, r in pairs]
        for (dark_path, _), dark, reference in zip(pairs, self.dark, self.reference, strict=True):
            if dark.shape != reference.shape or min(dark.shape[:2]) < crop:
                raise ValueError(f"{dark_path}: {dark.shape[:2]} does not match its reference or is below {crop}")
        self.crop, self.seed, self.epoch = crop, seed, 0
        self.with_labels, self.with_faces, self.exposure_free = labels, faces, exposure_free
        self.lights = lights

    def __len__(self) -> int:
        return len(self.dark)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _crop(self, image: np.ndarray, rng: np.random.Generator, window: tuple[int, int, bool] | None = None):
        if window is None:
            window = (*(int(rng.integers(0, s - self.crop + 1)) for s in image.shape[:2]), bool(rng.random() < 0.5))
        top, left, flip = window
        patch = image[top : top + self.crop, left : left + self.crop]
        patch = patch[:, ::-1] if flip else patch
        return torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1), window

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, index, 1))
        n = len(self)
        positive, negative = (int(index + rng.integers(1, n)) % n if n > 1 else index for _ in range(2))
        low, window = self._crop(self.dark[index], rng)
        clean = self._crop(self.reference[index], rng, window)[0]
        if self.lights > 0 and rng.random() < self.lights:
            lit = add_lights(low.permute(1, 2, 0).numpy(), clean.permute(1, 2, 0).numpy(), rng)
            low, clean = (torch.from_numpy(image).permute(2, 0, 1) for image in lit)
        item = {"low": low, "clean": clean}
        item["positive"] = self._crop(self.reference[positive], rng)[0]
        item["negative"] = self._crop(self.dark[negative], rng)[0]
        item["exposure_fixed"] = torch.tensor(not self.exposure_free)
        if self.with_labels:
            item["labels"] = torch.full((self.crop, self.crop), -1, dtype=torch.int64)
        if self.with_faces:
            item["chip_transform"] = torch.zeros(2, 3)
            item["identity"] = torch.tensor(0)
            item["face_valid"] = torch.tensor(False)
        return item


class MixedDataset(Dataset):
    """``primary`` followed by ``share`` / (1 - ``share``) times as many items of ``secondary`` (cycled, starting
    further along every epoch), so that a random permutation of the indices gives batches with about ``share``
    of their items from ``secondary``. Both must give items with the same keys and shapes."""

    def __init__(self, primary: Dataset, secondary: Dataset, share: float):
        if not 0 < share < 1:
            raise ValueError(f"the share of the second dataset must be in (0, 1), got {share}")
        self.primary, self.secondary = primary, secondary
        self.extra = max(1, round(share / (1 - share) * len(primary)))
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.primary) + self.extra

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for part in (self.primary, self.secondary):
            part.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if index < len(self.primary):
            return self.primary[index]
        return self.secondary[(index - len(self.primary) + self.epoch * self.extra) % len(self.secondary)]
