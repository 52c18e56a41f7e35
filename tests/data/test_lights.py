"""Light sources painted into real pairs (lowface.data.lights) and the ring ratio that measures halos round them."""

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import smooth_test_image
from lowface.data.datasets import RealPairsDataset
from lowface.data.lights import add_lights, draw_light
from lowface.data.synth import linear_to_srgb, srgb_to_linear
from lowface.filters import gaussian_blur
from lowface.io import ImageData, write_image
from lowface.metrics.halo import ring_ratio


def make_pairs(folder: Path, count: int = 2, size: int = 64) -> list[tuple[Path, Path]]:
    pairs = []
    for i in range(count):
        reference = smooth_test_image(size, size, seed=i)
        pairs.append((folder / f"{i}_dark.png", folder / f"{i}_ref.png"))
        write_image(pairs[-1][0], ImageData(reference * 0.2))
        write_image(pairs[-1][1], ImageData(reference))
    return pairs


def test_a_light_has_a_bright_core_and_a_glow_that_falls_off():
    for seed in range(20):
        light = draw_light((96, 128), np.random.default_rng(seed))
        core = light.distance == 0
        assert core.any() and light.core.shape == light.glow.shape == (96, 128, 3)
        assert light.core[core].max() >= 0.5 and not light.core[~core].any() and not light.glow[core].any()
        near = light.glow[(light.distance > 0) & (light.distance < 2)].max(initial=0)
        assert light.glow[light.distance > 30].max(initial=0) <= near + 1e-7


def test_painted_pairs_clip_the_light_white_in_the_reference_and_keep_the_scene_elsewhere():
    reference = smooth_test_image(160, 160, seed=1) * 0.8
    dark = linear_to_srgb(srgb_to_linear(reference) * 0.05).astype(np.float32)
    lit_dark, lit_reference = add_lights(dark, reference, np.random.default_rng(3), count=1, night=1.0)
    changed = np.abs(lit_reference - reference).max(2) > 0.05
    assert changed.any() and changed.mean() < 0.5  # a light, not a new scene
    core = np.abs(lit_dark - dark).max(2) > 0.3
    assert core.any() and (lit_reference[core] > 0.99).all()  # its core: bright when dark, white when exposed
    assert lit_dark.dtype == lit_reference.dtype == np.float32
    night_dark, night_reference = add_lights(dark, reference, np.random.default_rng(3), count=1, night=0.1)
    assert np.median(night_dark) < np.median(lit_dark)  # a shorter exposure round the same light
    assert (night_dark[core] > 0.5).all() and np.array_equal(night_reference[core], lit_reference[core])


def test_real_pairs_with_lights_are_seeded_and_the_same_shape(tmp_path: Path):
    plain = RealPairsDataset(make_pairs(tmp_path), crop=48, seed=2)
    lit = RealPairsDataset(make_pairs(tmp_path), crop=48, seed=2, lights=1.0)
    assert lit[0]["low"].shape == plain[0]["low"].shape == (3, 48, 48) and lit[0]["low"].dtype == torch.float32
    assert not torch.equal(lit[0]["clean"], plain[0]["clean"])
    assert torch.equal(lit[1]["low"], RealPairsDataset(make_pairs(tmp_path), crop=48, seed=2, lights=1.0)[1]["low"])


def test_ring_ratio_is_one_for_a_tone_curve_and_finds_the_ring_of_a_blurred_illumination():
    frame = smooth_test_image(128, 128, seed=0) * 0.08
    rows, cols = np.ogrid[:128, :128]
    distance = np.maximum(np.hypot(rows - 64, cols - 64) - 6, 0).astype(np.float32)
    lit = np.where((distance == 0)[..., None], 0.95, frame).astype(np.float32)

    def gamma(image):
        return image ** (1 / 2.2)

    def blurred_retinex(image):  # R = S / blur(S): the illumination spreads the light into its surroundings
        tensor = torch.from_numpy(image).permute(2, 0, 1)[None]
        illumination = gaussian_blur(tensor, 8.0).clamp_min(1e-3)
        return (0.3 * tensor / illumination).clamp(0, 1)[0].permute(1, 2, 0).numpy()

    assert ring_ratio(gamma(lit), gamma(frame), distance) == pytest.approx(1.0)
    assert ring_ratio(blurred_retinex(lit), blurred_retinex(frame), distance) < 0.9  # 15 % darker
    assert np.isnan(ring_ratio(gamma(lit), gamma(frame), distance, band=(500.0, 600.0)))
    with pytest.raises(ValueError, match=r"one size, got \(128, 128, 3\), \(64, 64, 3\)"):
        ring_ratio(lit, lit[:64, :64], distance)
