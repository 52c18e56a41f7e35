"""LPIPS-VGG v0.1 with user-supplied VGG-16 weights (random ones here: no registry ships ImageNet VGG-16), checked
against a direct functional re-computation of the reference procedure, plus identities and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import assert_close
from lowface.backbones.vgg import _vgg16_layers
from lowface.metrics import lpips as lpips_module

# conv layer indices of torchvision's vgg16.features, and the relu after which each LPIPS tap is taken
CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
POOL_AFTER = {2, 7, 14, 21}
TAP_AFTER = {2: 0, 7: 1, 14: 2, 21: 3, 28: 4}


@pytest.fixture(scope="module")
def heads() -> Path:
    try:
        return lpips_module.heads_path()
    except lpips_module.LPIPSWeightsMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def vgg_state(tmp_path_factory) -> tuple[Path, dict]:
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in _vgg16_layers().state_dict().items()}
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.save(state, path)
    return path, state


def direct_lpips(x, y, state, heads_file) -> torch.Tensor:
    lins = torch.load(heads_file, map_location="cpu", weights_only=True)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    feats = []
    for image in (x, y):
        h, taps = (2 * image - 1 - shift) / scale, []
        for index in CONVS:
            h = F.relu(F.conv2d(h, state[f"features.{index}.weight"], state[f"features.{index}.bias"], padding=1))
            if index in TAP_AFTER:
                taps.append(h)
            if index in POOL_AFTER:
                h = F.max_pool2d(h, 2)
        feats.append(taps)
    total = 0
    for k in range(5):
        a = feats[0][k] / (feats[0][k].norm(dim=1, keepdim=True) + 1e-10)
        b = feats[1][k] / (feats[1][k].norm(dim=1, keepdim=True) + 1e-10)
        total = total + F.conv2d((a - b) ** 2, lins[f"lin{k}.model.1.weight"]).mean((1, 2, 3))
    return total


def test_lpips_matches_the_reference_procedure(heads, vgg_state):
    path, state = vgg_state
    metric = lpips_module.LPIPS(path)
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 48, 48, generator=generator)
    y = (x + 0.1 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    with torch.no_grad():
        assert_close(metric(x, y), direct_lpips(x, y, state, heads), rtol=1e-5, atol=1e-7)


def test_lpips_is_zero_for_identical_images_symmetric_and_grows_with_noise(heads, vgg_state):
    metric = lpips_module.LPIPS(vgg_state[0])
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(1, 3, 40, 40, generator=generator)
    noise = torch.randn(x.shape, generator=generator)
    with torch.no_grad():
        values = [metric(x, (x + s * noise).clamp(0, 1)).item() for s in (0.0, 0.03, 0.2)]
        y = (x + 0.05 * noise).clamp(0, 1)
        assert metric(x, y).item() == pytest.approx(metric(y, x).item(), rel=1e-5)
    assert values[0] == pytest.approx(0.0, abs=1e-7) and 0 < values[1] < values[2]
    assert all((head >= 0).all() for head in metric.heads)  # the reference's heads are non-negative


def test_lpips_without_vgg_weights_says_what_is_missing(tmp_path: Path):
    with pytest.raises(lpips_module.LPIPSWeightsMissing, match="VGG-16"):
        lpips_module.LPIPS(tmp_path / "absent.pth")
