"""Synthesis presets (gamma + noise, physical low light) and the `lowface synth` verb."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import assert_close, smooth_test_image
from lowface.cli import main
from lowface.data.synth import (
    SYNTHESIS_PRESETS,
    darken_physical,
    linear_to_srgb,
    plan_linear_darkening,
    srgb_to_linear,
    synthesize,
)
from lowface.io import ImageData, read_image, write_image


def test_srgb_transfer_round_trip_and_known_points():
    x = np.linspace(0, 1, 101)
    assert_close(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-12, rtol=1e-5)
    assert srgb_to_linear(np.array([0.5]))[0] == pytest.approx(0.21404, abs=1e-5)


@pytest.mark.parametrize("name", sorted(SYNTHESIS_PRESETS))
def test_every_preset_is_reproducible_darker_and_8bit(name: str):
    images = [smooth_test_image(24, 32, seed=s) for s in range(3)]
    dark, params = synthesize(images, name, seed=5)
    again, _ = synthesize(images, name, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(dark, again, strict=True))
    assert len(params) == 3
    for clean, low in zip(images, dark, strict=True):
        assert low.shape == clean.shape and low.min() >= 0 and low.max() <= 1
        assert_close(low * 255, np.round(low * 255), atol=1e-6, rtol=1e-5)  # on the 8-bit grid
        assert low.mean() < 0.7 * clean.mean()


def test_linear_preset_is_algorithm1():
    images = [smooth_test_image(24, 32, seed=s) for s in range(4)]
    _, params = synthesize(images, "linear", seed=2)
    plan = plan_linear_darkening(images, (0.35, 0.45), seed=2)
    assert [p["ratio"] for p in params] == pytest.approx(list(plan.ratios))


def test_physical_model_noise_grows_as_light_falls():
    flat = np.full((64, 64, 3), 0.5)
    rng = np.random.default_rng(0)
    snr = {}
    for exposure in (0.01, 0.1):
        linear = srgb_to_linear(darken_physical(flat, exposure, rng))
        snr[exposure] = linear.mean() / linear.std()
    assert snr[0.1] > 2 * snr[0.01]  # shot noise: SNR ~ sqrt(signal)
    mean_signal = srgb_to_linear(darken_physical(flat, 0.1, np.random.default_rng(1), read_noise=0.0)).mean()
    assert mean_signal == pytest.approx(0.1 * srgb_to_linear(np.array(0.5)), rel=0.05)  # exposure in linear light
    compressed = darken_physical(flat, 0.1, np.random.default_rng(1), jpeg_quality=30)
    assert compressed.shape == flat.shape


@pytest.mark.slow
def test_synth_cli_keeps_the_tree_records_parameters_and_is_deterministic(tmp_path: Path):
    source = tmp_path / "clean"
    for i, rel in enumerate(["a/one.png", "a/b/two.jpg", "three.png"]):
        write_image(source / rel, ImageData(smooth_test_image(20, 24, seed=i)))
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    runner = CliRunner()
    result = runner.invoke(main, ["synth", str(source), "-o", str(tmp_path / "out"), "-p", "physical-3"])
    assert result.exit_code == 0, result.output
    outputs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert outputs == ["a/b/two.png", "a/one.png", "three.png"]
    record = json.loads((tmp_path / "out" / "synth.json").read_text())
    assert record["preset"] == "physical-3" and record["images"]["a/one.png"]["exposure"] == 0.03
    again = runner.invoke(main, ["synth", str(source), "-o", str(tmp_path / "again"), "-p", "physical-3"])
    assert again.exit_code == 0
    for rel in outputs:
        assert np.array_equal(read_image(tmp_path / "out" / rel).rgb, read_image(tmp_path / "again" / rel).rgb)
    assert before == {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}  # inputs untouched
    unknown = runner.invoke(main, ["synth", str(source), "-o", str(tmp_path / "x"), "-p", "moonlight"])
    assert unknown.exit_code != 0 and "unknown preset 'moonlight'" in unknown.output
    listing = runner.invoke(main, ["synth", str(source), "-o", str(tmp_path / "x"), "--list"])
    assert "gamma-noise" in listing.output and "physical-1" in listing.output


def test_streamed_synthesis_gives_the_same_images_as_the_whole_set():
    from lowface.data.synth import iter_synthesize, synthesize, synthesize_float32

    rng = np.random.default_rng(5)
    images = [rng.uniform(0, 1, (12, 10, 3)) for _ in range(4)]
    for preset in ("linear", "physical-3", "noisy-mix"):
        whole, params = synthesize(images, preset, seed=3)
        streamed = list(iter_synthesize(images, preset, seed=3))
        assert all(np.array_equal(a, b) for a, (b, _) in zip(whole, streamed, strict=True))
        assert params == [p for _, p in streamed]
        as_float32 = synthesize_float32(images, preset, seed=3)
        assert as_float32[0].dtype == np.float32
        assert_close(as_float32[1], whole[1], atol=1e-7, rtol=1e-5)


def test_camera_pipeline_noise_is_spatially_correlated_and_the_cast_tints_the_capture():
    """Demosaicing spreads each photosite's noise over its neighbours (real camera noise is blotchy, not white);
    the light's colour cast survives in the capture."""
    from lowface.data.synth import darken_camera

    grey = np.full((96, 96, 3), 0.5)

    def neighbour_correlation(image: np.ndarray) -> float:
        noise = image[..., 1] - image[..., 1].mean()
        return float((noise[:, 1:] * noise[:, :-1]).mean() / noise.var())

    camera = darken_camera(grey, 0.1, np.random.default_rng(0), cast=(1.3, 1.0, 0.7), jpeg_quality=None)
    physical = darken_physical(grey, 0.1, np.random.default_rng(0))
    assert neighbour_correlation(camera) > 0.3 and abs(neighbour_correlation(physical)) < 0.1
    red, green, blue = srgb_to_linear(camera).reshape(-1, 3).mean(0)
    assert red / green == pytest.approx(1.3, rel=0.05) and blue / green == pytest.approx(0.7, rel=0.05)
    odd = darken_camera(np.full((33, 47, 3), 0.4), 0.2, np.random.default_rng(1))
    assert odd.shape == (33, 47, 3)
