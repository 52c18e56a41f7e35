"""Exports: ONNX (run by onnxruntime) and TorchScript give the same output as PyTorch, at any input size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import assert_close
from lowface.cli import main
from lowface.inference.export import export_onnx, export_torchscript
from lowface.models import EnhanceNet, FastEnhanceNet, RestoreNet


def _restore_student() -> RestoreNet:
    """The video-rate restoration layout (4x4 space-to-depth, pooled guided high-pass, tone head), every part active."""
    net = RestoreNet(scale=8, width=16, denoiser_width=24, unshuffle=4, detail_sigma=8.0, tone_width=16,
                     detail_pooled=True, detail_guide_eps=0.03)  # fmt: skip
    for p in [*net.denoiser.out.parameters(), *net.tone.layers[-1].parameters()]:
        torch.nn.init.normal_(p, 0.0, 0.05)
    return net


@pytest.mark.parametrize("make_model", [EnhanceNet, FastEnhanceNet, lambda: RestoreNet(tone_width=8), _restore_student])
def test_onnx_and_torchscript_match_pytorch(tmp_path: Path, make_model):
    """Also for the restoration networks, whose denoiser pads to a multiple of 16: the graph traced at 64 x 64 pads
    83 x 130 as PyTorch does (a size-specific padding was once traced in, and other sizes failed or went wrong)."""
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = make_model().eval()
    export_onnx(model, tmp_path / "m.onnx", 64, 64)
    export_torchscript(model, tmp_path / "m.pt", 64, 64)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    scripted = torch.jit.load(str(tmp_path / "m.pt"))
    for shape in [(1, 3, 64, 64), (1, 3, 83, 130)]:  # traced at 64x64, run at another size too
        x = torch.rand(*shape) * 0.4
        with torch.no_grad():
            reference = model(x).reflectance
            traced = scripted(x)
        onnx_out = session.run(None, {"image": x.numpy()})[0]
        assert np.abs(onnx_out - reference.numpy()).max() < 1e-5
        assert_close(traced, reference, atol=1e-6, rtol=1e-5)


@pytest.mark.slow
def test_cli_export_refuses_non_networks(tmp_path: Path):
    result = CliRunner().invoke(main, ["export", "lime", "-o", str(tmp_path / "x.onnx")])
    assert result.exit_code != 0 and "not a network" in result.output


@pytest.mark.slow
def test_cli_export_builds_a_denoising_strength_in_and_refuses_it_without_a_denoiser(tmp_path: Path):
    from lowface.inference.catalogue import create_model

    result = CliRunner().invoke(main, ["export", "lowface-restore-real", "-o", str(tmp_path / "m.pt"), "--height", "64",
                                       "--width", "64", "--denoise", "0.3"])  # fmt: skip
    assert result.exit_code == 0, result.output
    x = torch.rand(1, 3, 80, 96) * 0.2
    model = create_model("lowface-restore-real")
    with torch.no_grad():
        own = model(x).reflectance
        model.denoise_strength = 0.3
        expected = model(x).reflectance
        exported = torch.jit.load(str(tmp_path / "m.pt"))(x)
    assert_close(exported, expected, atol=1e-5, rtol=0)
    assert (exported - own).abs().max() > 1e-3
    refused = CliRunner().invoke(main, ["export", "lowface-fast", "-o", str(tmp_path / "f.pt"), "--denoise", "0.3"])
    assert refused.exit_code == 1 and "lowface-fast: this model has no denoiser" in refused.output
