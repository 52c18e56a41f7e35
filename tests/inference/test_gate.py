"""The do-no-harm exposure gate: well-exposed images untouched, dark ones fully enhanced, video without flicker."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import assert_close
from lowface.data.synth import synthesize
from lowface.inference.enhancer import Enhancer
from lowface.inference.gate import ExposureGate, GateSmoother, shipped_gate
from lowface.inference.statistics import (
    BRIGHTNESS_STATISTICS,
    FrameSmoother,
    exposure_features,
    row_quantiles,
    select_statistics,
)
from lowface.models.classical import GammaCorrection


def named(features: torch.Tensor) -> dict[str, float]:
    """(1, 13) statistics -> {name: value}."""
    return dict(zip(BRIGHTNESS_STATISTICS, features[0].tolist(), strict=True))


def mean_only_gate(coef: float, bias: float) -> ExposureGate:
    """A gate that looks at the log mean luma alone (standardised with mean 0, std 1)."""
    size = len(BRIGHTNESS_STATISTICS)
    return ExposureGate((0.0,) * size, (1.0,) * size, (coef,) + (0.0,) * (size - 1), bias)


def test_exposure_features_known_values():
    grey = torch.full((1, 3, 40, 30), 0.5)
    log_half = math.log(0.501)
    expected = {name: log_half for name in BRIGHTNESS_STATISTICS} | {"dark_share": 0.0, "saturation": 0.0,
                                                                    "log_spread": 0.0}  # fmt: skip
    assert named(exposure_features(grey)) == pytest.approx(expected, abs=1e-5)
    half_dark = grey.clone()
    half_dark[..., :15] = 0.05
    statistics = named(exposure_features(half_dark))
    assert statistics["dark_share"] == pytest.approx(0.5, abs=0.02)
    assert statistics["log_p05"] == pytest.approx(math.log(0.051), abs=1e-4)
    assert statistics["log_p99"] == pytest.approx(log_half, abs=1e-4)
    assert statistics["log_spread"] == pytest.approx(math.log(0.51 / 0.06) / 2, abs=0.02)  # two halves: half the gap
    red = torch.zeros(1, 3, 20, 20)
    red[:, 0] = 1.0
    statistics = named(exposure_features(red))
    assert statistics["saturation"] == pytest.approx(1.0, abs=2e-3)
    assert statistics["log_peak_p99"] == pytest.approx(math.log(1.001), abs=1e-5)
    assert statistics["log_mean"] == pytest.approx(math.log(0.299 + 0.001), abs=1e-4)  # BT.601 luma of red
    big = torch.full((1, 3, 3000, 1000), 0.5)  # statistics on a downsampled copy: same values, bounded cost
    assert named(exposure_features(big)) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("count", [1, 2, 7, 32400])
def test_the_statistics_quantiles_are_torchs_to_the_bit(count: int):
    """NumPy sorts, the interpolation is torch's: the gate, the router and the exposure target see the features they
    were fitted on, exactly, whatever the row length (one pixel included)."""
    values = torch.rand(3, count, generator=torch.Generator().manual_seed(count)) ** 3
    levels = torch.tensor([0.0, 0.01, 0.25, 0.5, 0.95, 0.999, 1.0])
    with torch.inference_mode():
        fast = row_quantiles(values, levels)
    assert fast.shape == (7, 3) and torch.equal(fast, torch.quantile(values, levels, dim=1))


def test_statistics_and_gate_are_finite_on_one_pixel_and_one_row_images():
    for shape in ((1, 3, 1, 1), (1, 3, 1, 7)):
        image = torch.full(shape, 0.05)
        assert torch.isfinite(exposure_features(image)).all(), shape
        assert shipped_gate().weight(image).item() == 1.0  # a uniformly dark pixel: enhance


def test_select_statistics_picks_columns_by_name():
    statistics = torch.arange(2 * len(BRIGHTNESS_STATISTICS), dtype=torch.float32).view(2, -1)
    assert select_statistics(statistics, ("log_p95", "log_mean")).tolist() == [[2.0, 0.0], [15.0, 13.0]]


def test_dead_zone_gives_exact_zero_and_one():
    gate = mean_only_gate(1.0, 0.0)
    features = torch.zeros(3, len(BRIGHTNESS_STATISTICS))
    features[:, 0] = torch.tensor([-5.0, 0.0, 5.0])
    weights = gate.weight_from_features(features)
    assert weights[0] == 0 and weights[2] == 1 and weights[1] == 0  # p = 0.5: the decision boundary


def test_shipped_gate_leaves_clean_faces_and_enhances_their_dark_versions(lfw_faces):
    gate = shipped_gate()
    clean = torch.stack([torch.from_numpy(f).permute(2, 0, 1) for f in lfw_faces])
    dark = torch.stack([torch.from_numpy(d).permute(2, 0, 1) for d in synthesize(lfw_faces, "x0.15-noise0.02")[0]])
    assert gate.weight(clean).max() == 0
    assert gate.weight(dark).min() == 1.0


def test_gated_enhancer_returns_well_exposed_images_bit_for_bit_and_dark_ones_fully_enhanced(lfw_faces):
    gated = Enhancer(GammaCorrection(2.2), device="cpu", gate=True)
    raw = Enhancer(GammaCorrection(2.2), device="cpu", gate=False)
    clean = torch.from_numpy(lfw_faces[1]).permute(2, 0, 1)[None]
    if shipped_gate().weight(clean) == 0:
        assert torch.equal(gated.enhance_tensor(clean), clean)
    dark = clean * 0.1
    assert_close(gated.enhance_tensor(dark), raw.enhance_tensor(dark), rtol=1.3e-6, atol=1e-5)


def test_video_gate_weight_is_smoothed_over_frames(rng):
    gate = mean_only_gate(-2.0, -2.3)  # w between 0 and 1 here
    smoother = GateSmoother(gate, momentum=0.9)
    base = rng.uniform(0.05, 0.3, (1, 3, 32, 32)).astype(np.float32)
    raw, smooth = [], []
    for _ in range(40):  # a static scene with sensor noise
        frame = torch.from_numpy(np.clip(base + rng.normal(0, 0.03, base.shape), 0, 1).astype(np.float32))
        raw.append(float(gate.weight(frame)))
        smooth.append(float(smoother(frame)))
    assert np.std(np.diff(smooth[10:])) < 0.25 * np.std(np.diff(raw[10:]))


def test_measuring_every_fourth_frame_keeps_the_time_constant_at_a_quarter_of_the_cost():
    """FrameSmoother(every=4) measures frames 0, 4, 8, ... only, and after a step in the measurement it has moved as
    far by frame 8 as measuring every frame does (momentum 0.9^4 per measurement); every < 1 is refused."""
    measured: list[int] = []

    def step(frame: torch.Tensor) -> torch.Tensor:  # 0 on the first frame, 1 after it
        measured.append(int(frame))
        return torch.tensor([float(int(frame) > 0)])

    every_fourth = FrameSmoother(step, momentum=0.9, every=4)
    values = [float(every_fourth(torch.tensor(index))) for index in range(9)]
    assert measured == [0, 4, 8]
    assert values[:4] == [0.0] * 4 and values[4:8] == [pytest.approx(1 - 0.9**4)] * 4
    every_frame = FrameSmoother(step, momentum=0.9)
    assert [float(every_frame(torch.tensor(index))) for index in range(9)][8] == pytest.approx(1 - 0.9**8)
    assert values[8] == pytest.approx(1 - 0.9**8)
    with pytest.raises(ValueError, match="every must be a positive"):
        FrameSmoother(step, every=0)
