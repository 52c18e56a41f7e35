"""Frozen feature extractors: the ImageNet EfficientNet-Lite0 is real; the VGG-16 loader reads user files."""

from __future__ import annotations

from pathlib import Path

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F

from conftest import assert_close
from lowface.backbones import FrozenBackboneMissing, create_feature_extractor
from lowface.backbones.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD, load_lite0


def test_efficientnet_lite0_classifies_imagenet_samples():
    skimage_data = pytest.importorskip("skimage.data")
    net = load_lite0()
    for name, classes in (("chelsea", {281, 282, 285}), ("coffee", {967, 968})):  # cats; espresso / cup
        image = torch.from_numpy(getattr(skimage_data, name)()).permute(2, 0, 1)[None].float() / 255
        image = F.interpolate(image, size=(224, 224), mode="bilinear", antialias=True)
        x = (image - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        with torch.no_grad():
            top = net(x).argmax(1).item()
        assert top in classes, f"{name}: predicted class {top}"


def test_feature_taps_shapes_frozen_and_differentiable_wrt_input():
    features = create_feature_extractor("efficientnet_lite0")
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    out = features(x, ("s2", "s4", "s8", "s16"))
    assert [tuple(out[t].shape[1:]) for t in ("s2", "s4", "s8", "s16")] == [
        (16, 32, 32),
        (24, 16, 16),
        (40, 8, 8),
        (112, 4, 4),
    ]
    out["s16"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in features.parameters())
    features.train()
    assert not features.training  # batch-norm statistics never update
    with pytest.raises(KeyError, match="unknown feature taps"):
        features(x, ("relu4_3",))


def test_vgg16_loader_reads_a_user_state_dict(tmp_path: Path):
    from lowface.backbones.vgg import VGG16Features, _vgg16_layers

    torch.manual_seed(0)
    layers = _vgg16_layers()
    state = {f"features.{k}": v for k, v in layers.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored
    safetensors.torch.save_file(state, str(tmp_path / "vgg16.safetensors"))
    torch.save({"module." + k: v for k, v in state.items()}, tmp_path / "vgg16.pth")
    x = torch.rand(1, 3, 32, 32)
    a = VGG16Features(tmp_path / "vgg16.safetensors")(x, ("relu1_2", "relu4_3"))
    b = create_feature_extractor("vgg16", tmp_path / "vgg16.pth")(x, ("relu1_2", "relu4_3"))
    assert a["relu4_3"].shape == (1, 512, 4, 4)
    assert_close(a["relu4_3"], b["relu4_3"], rtol=1e-5, atol=1e-8)
    with pytest.raises(FrozenBackboneMissing, match="user-supplied"):
        create_feature_extractor("vgg16")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="not a VGG-16"):
        VGG16Features(tmp_path / "bad.pth")


def test_lite0_checksum_is_verified(tmp_path: Path):
    bogus = tmp_path / "fake.pth"
    torch.save({}, bogus)
    with pytest.raises(ValueError, match="sha256"):
        load_lite0(bogus)


def test_the_feature_layers_alone_give_the_same_features(tmp_path: Path):
    from lowface.backbones.efficientnet_lite import EfficientNetLiteFeatures, save_feature_layers

    path = save_feature_layers(tmp_path / "layers.safetensors")
    assert path.stat().st_size < 4e6  # the 19 MB file's first layers only
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    full = create_feature_extractor("efficientnet_lite0")(x, ("s8", "s16"))
    small = create_feature_extractor("efficientnet_lite0", path)(x, ("s8", "s16"))
    for tap in ("s8", "s16"):
        assert torch.equal(full[tap], small[tap])
    state = safetensors.torch.load_file(str(path))
    safetensors.torch.save_file({k: v for k, v in state.items() if not k.startswith("_blocks.10.")},
                                str(tmp_path / "short.safetensors"))  # fmt: skip
    with pytest.raises(ValueError, match=r"lacks the EfficientNet-Lite0 layers _blocks\.10"):
        EfficientNetLiteFeatures(load_lite0(tmp_path / "short.safetensors"))
