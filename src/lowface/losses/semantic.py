"""Semantic module (paper Eq. 9): brightness consistency inside each face-parsing region."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SemanticBrightnessLoss(nn.Module):
    """sum_s mean_{i in s} (B_i - mean_s B)^2 per image, averaged over the batch, where B is the channel-mean
    brightness of the enhanced image and s runs over the parsing classes present in that image. The class
    mean is over that class's pixels only (Eq. 9 as written).

    enhanced: (B, 3, H, W) in [0, 1]; labels: (B, H, W) integer class indices in [0, num_classes); pixels
    labelled ``ignore_index`` (e.g. -1, outside the parsed area) take no part. Returns a scalar.
    """

    def __init__(self, num_classes: int = 11, ignore_index: int = -1):
        super().__init__()
        self.num_classes, self.ignore_index = num_classes, ignore_index

    def forward(self, enhanced: Tensor, labels: Tensor) -> Tensor:
        if labels.shape != (enhanced.shape[0], *enhanced.shape[-2:]):
            raise ValueError(f"labels {tuple(labels.shape)} do not match the images {tuple(enhanced.shape)}")
        brightness = enhanced.mean(dim=1).flatten(1)  # (B, N)
        labels = labels.flatten(1).long()
        valid = labels != self.ignore_index
        one_hot = F.one_hot(labels.clamp(min=0), self.num_classes).to(brightness) * valid[..., None]  # (B, N, S)
        counts = one_hot.sum(dim=1)  # (B, S)
        means = torch.einsum("bn,bns->bs", brightness, one_hot) / counts.clamp(min=1)
        deviation = (brightness[..., None] - means[:, None, :]) ** 2 * one_hot
        per_class = deviation.sum(dim=1) / counts.clamp(min=1)  # zero for absent classes
        return per_class.sum(dim=1).mean()
