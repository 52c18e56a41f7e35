"""Temporal noise reduction: noise estimate, averaging where static, following where it moves, the CLI path."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lowface.cli import main
from lowface.inference.temporal import TemporalDenoiser, difference_sigma

SIGMA = 0.02


def scene(height: int = 96, width: int = 128) -> torch.Tensor:
    """(1, 3, H, W) a smooth dark scene."""
    y, x = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    return torch.stack([0.1 + 0.05 * torch.sin(8 * x), 0.08 + 0.04 * y, 0.06 + 0.03 * x * y]).unsqueeze(0)


def test_difference_sigma_measures_noise_in_the_static_part_even_when_a_third_moves():
    torch.manual_seed(0)
    clean = scene(256, 256)
    moved = clean.clone()
    moved[..., :, :80] = torch.rand(1, 3, 256, 80)  # a third of the picture changed completely
    for sigma in (0.005, 0.02, 0.05):
        a = clean + sigma * torch.randn_like(clean)
        b = moved + sigma * torch.randn_like(clean)
        assert difference_sigma(b - a).item() == pytest.approx(sigma * 2**0.5, rel=0.08)


def test_static_scene_noise_is_averaged_away_and_moving_content_is_followed_without_ghost():
    torch.manual_seed(0)
    clean = scene()
    denoiser = TemporalDenoiser(strength=8)
    first = clean + SIGMA * torch.randn_like(clean)
    assert torch.equal(denoiser(first), first)  # the first frame passes unchanged
    inputs, outputs = [], []
    for _ in range(40):
        frame = clean + SIGMA * torch.randn_like(clean)
        inputs.append(frame)
        outputs.append(denoiser(frame))
    flicker_in = np.mean([(inputs[i] - inputs[i - 1]).abs().mean().item() for i in range(20, 40)])
    flicker_out = np.mean([(outputs[i] - outputs[i - 1]).abs().mean().item() for i in range(20, 40)])
    error_in = np.mean([(f - clean).abs().mean().item() for f in inputs[20:]])
    error_out = np.mean([(f - clean).abs().mean().item() for f in outputs[20:]])
    assert flicker_out < flicker_in / 5  # about sqrt(2 * 8 - 1) = 3.9x less noise, and its frame-to-frame part
    assert error_out < error_in / 2.5

    moved = clean.clone()
    moved[..., 30:60, 40:90] += 0.2  # something bright enters: 10 sigma
    frame = moved + SIGMA * torch.randn_like(moved)
    out = denoiser(frame)
    region = (slice(None), slice(None), slice(30, 60), slice(40, 90))
    assert (out - moved)[region].abs().mean() < 1.2 * SIGMA * 0.8  # as noisy as the new frame, not a ghost
    assert (out - moved)[..., 30:60, 38:42].abs().mean() < 1.2 * SIGMA * 0.8  # its edge too


def test_a_new_frame_size_restarts_and_strength_below_one_is_refused():
    denoiser = TemporalDenoiser()
    denoiser(scene(32, 32))
    other = scene(40, 48)
    assert torch.equal(denoiser(other), other)
    with pytest.raises(ValueError, match="strength"):
        TemporalDenoiser(strength=0.5)


def _frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1].astype(np.float32) / 255)
    capture.release()
    return frames


@pytest.mark.slow
def test_enhance_temporal_denoise_steadies_a_static_noisy_clip(tmp_path: Path):
    rng = np.random.default_rng(0)
    still = scene(96, 128)[0].permute(1, 2, 0).numpy()
    source = tmp_path / "still.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (128, 96))
    for _ in range(16):
        frame = np.clip(still + rng.normal(0, SIGMA, still.shape), 0, 1)
        writer.write(np.round(frame[..., ::-1] * 255).astype(np.uint8))
    writer.release()
    flicker = {}
    for frames in ("0", "8"):
        out = tmp_path / f"out-{frames}"
        result = CliRunner().invoke(main, ["enhance", str(source), "-o", str(out), "--temporal-denoise", frames, "-q"])
        assert result.exit_code == 0, result.output
        video = _frames(out / "still.avi")
        assert len(video) == 16
        flicker[frames] = np.mean([np.abs(video[i] - video[i - 1]).mean() for i in range(8, 16)])
    assert flicker["8"] < flicker["0"] / 2
