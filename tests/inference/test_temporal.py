"""Temporal noise reduction: noise estimate, averaging where static, following where it moves, the CLI path."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lowface.cli import main
from lowface.inference.jobs import Job, OutputOptions
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


def textured(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """(1, 3, H, W) a dark scene with structure at several scales (smoothed noise), values about 0.02-0.2."""
    rng = np.random.default_rng(seed)
    layers = [cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), s) for s in (1.5, 4.0)]
    texture = sum((layer - layer.mean()) / layer.std() for layer in layers)
    return torch.from_numpy(np.clip(0.1 + 0.03 * texture, 0.0, 1.0)).permute(2, 0, 1)[None].contiguous()


def test_a_panning_camera_is_followed_so_its_noise_is_averaged_and_the_picture_stays_sharp():
    torch.manual_seed(0)
    world = textured(120, 220)
    view = [world[..., 12:108, 4 + 3 * t : 132 + 3 * t] for t in range(24)]  # 3 px a frame to the left
    noisy = [(v + SIGMA * torch.randn_like(v)).clamp(0, 1) for v in view]
    errors = {}
    for motion in (False, True):
        denoiser = TemporalDenoiser(strength=8, motion=motion)
        outputs = [denoiser(frame) for frame in noisy]
        inner = (..., slice(8, -8), slice(8, -8))  # (the strip entering the picture has no past)
        settled = zip(outputs[12:], view[12:], strict=True)
        errors[motion] = np.mean([(o - v)[inner].abs().mean().item() for o, v in settled])
        assert all(o.min() >= 0 and o.max() <= 1 for o in outputs)
    error_in = np.mean([(f - v).abs().mean().item() for f, v in zip(noisy[12:], view[12:], strict=True)])
    assert errors[True] < error_in / 2.5  # averaged along the motion (measured 0.33), not smeared
    assert errors[False] > 3 * errors[True]  # averaged in place, the texture smears (1.6x the input's error)


def test_a_cut_to_another_scene_starts_afresh_without_a_ghost_and_each_run_gives_the_same_frames():
    torch.manual_seed(0)
    first, second = textured(96, 128, seed=1), textured(96, 128, seed=2)
    clip = [(scene + SIGMA * torch.randn_like(scene)).clamp(0, 1) for scene in [first] * 12 + [second] * 12]
    runs = []
    for _ in range(2):
        denoiser = TemporalDenoiser(strength=8)
        runs.append([denoiser(frame) for frame in clip])
    outputs = runs[0]
    assert torch.equal(outputs[12], clip[12])  # the cut's first frame as it came, nothing of the last scene
    error = lambda i, truth: (outputs[i] - truth).abs().mean().item()  # noqa: E731
    assert error(23, second) < (clip[23] - second).abs().mean().item() / 2  # and averaging again after it
    assert error(11, first) < (clip[11] - first).abs().mean().item() / 2
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))  # deterministic: no random draws


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


def test_the_motion_compensated_filter_is_part_of_a_videos_recipe_so_older_outputs_are_redone():
    job = Job(Path("in/clip.mp4"), Path("out/clip.mp4"))
    assert "temporal_filter" not in OutputOptions().for_job(job)  # (outputs made without the filter: unchanged)
    recipe = OutputOptions(temporal_frames=8.0).for_job(job)
    assert recipe["temporal_frames"] == 8.0 and recipe["temporal_filter"] == "motion-compensated"
