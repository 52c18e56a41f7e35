"""The default's exposure control: the curve, its solver, the shipped target, and the Enhancer and video using it."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import assert_close
from lowface.data.public import public_face
from lowface.data.synth import synthesize
from lowface.inference.batch import FrameEnhancer
from lowface.inference.enhancer import Enhancer
from lowface.inference.exposure import (
    LOG_C_RANGE,
    ROWS_PER_CHUNK,
    ExposureSmoother,
    ExposureTarget,
    apply_curve_,
    curve,
    mean_luma,
    shipped_exposure,
    solve_curve,
)
from lowface.inference.logistic import fit_linear
from lowface.inference.statistics import exposure_features


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]


def test_curve_keeps_black_and_white_brightens_below_one_and_darkens_above():
    x = torch.linspace(0, 1, 101).view(1, 1, 1, -1).expand(2, 3, 1, -1)
    y = curve(x, torch.tensor([math.log(0.5), math.log(2.0)]))
    assert_close(y[..., [0, -1]], x[..., [0, -1]], rtol=0, atol=1e-7)
    assert bool((y[0, :, :, 1:-1] > x[0, :, :, 1:-1]).all()) and bool((y[1, :, :, 1:-1] < x[1, :, :, 1:-1]).all())
    assert bool((y.diff(dim=-1) > 0).all())  # monotone
    assert_close(y[0, 0, 0, 50], torch.tensor(0.5 / (0.5 + 0.5 * 0.5)))  # x / (c + (1 - c) x) at x = 0.5, c = 0.5
    assert torch.equal(curve(x, torch.zeros(2)), x)


def test_solve_curve_reaches_the_aimed_mean_luma_and_stops_at_its_range():
    sample = torch.rand(2, 3, 40, 50, generator=torch.Generator().manual_seed(0)) * 0.6
    aim = torch.tensor([math.log(0.45), math.log(0.15)])
    log_c = solve_curve(sample, aim)
    assert float(log_c[0]) < 0 < float(log_c[1])  # brighten the first, darken the second
    assert_close(mean_luma(curve(sample, log_c)).log(), aim, rtol=0, atol=1e-4)
    assert_close(solve_curve(sample, torch.tensor([0.0, -9.0])), torch.tensor([-LOG_C_RANGE, LOG_C_RANGE]), atol=1e-4,
                 rtol=0)  # fmt: skip


def test_apply_curve_in_place_by_chunks_of_rows_equals_the_curve():
    x = torch.rand(2, 3, ROWS_PER_CHUNK + 37, 20, generator=torch.Generator().manual_seed(1))
    log_c = torch.tensor([-0.7, 0.4])
    expected = curve(x, log_c)
    out = apply_curve_(x, log_c)
    assert out is x
    assert_close(x, expected, rtol=0, atol=1e-6)


def test_settle_moves_the_share_of_the_way_to_the_prediction_and_darken_only_never_brightens():
    target = replace(shipped_exposure(), share=0.5, brighten_share=0.5, max_lift=math.inf)
    out = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2)) * 0.3
    before = float(mean_luma(out[..., ::8, ::8]).log())  # the solver measures a strided sample
    predicted = torch.tensor([math.log(0.4)])
    settled = target.settle(out.clone(), predicted=predicted)
    assert_close(mean_luma(settled[..., ::8, ::8]).log(), torch.tensor([(before + math.log(0.4)) / 2]), rtol=0,
                 atol=1e-4)  # fmt: skip
    assert_close(replace(target, brighten_share=0.0).settle(out.clone(), predicted=predicted), out, rtol=0,
                 atol=1e-5)  # fmt: skip
    darken_only = replace(target, brighten_share=0.0)
    assert_close(darken_only.settle(out.clone(), predicted=predicted), out, rtol=0, atol=1e-5)
    darker = darken_only.settle(out.clone(), predicted=torch.tensor([math.log(0.05)]))
    assert_close(mean_luma(darker[..., ::8, ::8]).log(), torch.tensor([(before + math.log(0.05)) / 2]), rtol=0,
                 atol=1e-4)  # fmt: skip


def test_settle_brightens_by_its_own_share_and_never_beyond_the_lift_bound():
    out = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(4)) * 0.2
    before = float(mean_luma(out[..., ::8, ::8]).log())
    predicted = torch.tensor([before + 1.0])  # e times brighter wanted
    target = replace(shipped_exposure(), share=0.5, brighten_share=0.25, max_lift=math.inf)
    lifted = mean_luma(target.settle(out.clone(), predicted=predicted)[..., ::8, ::8]).log()
    assert float(lifted) == pytest.approx(before + 0.25, abs=1e-4)
    bounded = mean_luma(replace(target, max_lift=0.1).settle(out.clone(), predicted=predicted)[..., ::8, ::8]).log()
    assert float(bounded) == pytest.approx(before + 0.1, abs=1e-4)
    # the bound is on brightening only: an output brighter than its prediction still moves the darkening share
    darker = mean_luma(replace(target, max_lift=0.1).settle(out.clone(), predicted=predicted - 2.0)[..., ::8, ::8])
    assert float(darker.log()) == pytest.approx(before - 0.5, abs=1e-4)


def test_exposure_target_round_trips_through_its_file(tmp_path, monkeypatch):
    for lift in (0.2, math.inf):
        target = replace(shipped_exposure(), share=0.4, brighten_share=0.3, max_lift=lift)
        target.save(tmp_path / "exposure.json")
        monkeypatch.setattr("lowface.inference.exposure.package_file", lambda _, name: tmp_path / name)
        monkeypatch.setattr("lowface.inference.logistic.package_file", lambda _, name: tmp_path / name)
        assert ExposureTarget.load_shipped("exposure.json") == target


def test_shipped_target_asks_for_a_brighter_image_the_darker_a_face_was_made():
    face = public_face()
    dark = [_tensor(synthesize([face], preset, seed=0)[0][0]) for preset in ("linear", "x0.15-noise0.02")]
    predicted = [float(shipped_exposure().predicted(x).exp()) for x in dark]
    clean = float(mean_luma(_tensor(face)))
    for x, level in zip(dark, predicted, strict=True):
        assert float(mean_luma(x)) < level  # brighter than the dark input ...
        assert 0.5 * clean < level < 2 * clean  # ... and near the clean photo's level
    assert 0.0 < shipped_exposure().share <= 1.0


def test_fit_linear_recovers_known_coefficients_and_respects_weights():
    x = torch.randn(500, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = x @ torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64) + 0.25
    fit = fit_linear(x, y, l2=0.0)
    assert_close(fit.linear_from_features(x), y, rtol=0, atol=1e-9)
    # half the samples from another relation, weighted to nothing: the first is found all the same
    y_other = torch.cat([y[:250], -y[250:]])
    weight = torch.cat([torch.ones(250), torch.zeros(250)]).double()
    assert_close(fit_linear(x, y_other, weight, l2=0.0).linear_from_features(x[:250]), y[:250], rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def noisy_face() -> torch.Tensor:
    return _tensor(synthesize([public_face()], "x0.15-noise0.02", seed=3)[0][0])


def test_default_takes_back_overbrightening_and_leaves_a_darker_result_as_it_is(noisy_face):
    """A face at half its exposure comes back at 0.64 mean luma where the target predicts 0.55: the default darkens
    it the shipped share of the way (in log mean luma); the heavily darkened noisy face comes back darker than the
    prediction, and the shipped target only darkens."""
    half = _tensor(public_face() * 0.5)
    auto = Enhancer.from_pretrained("lowface-auto", device="cpu", gate=False)
    auto.model.chroma = None  # the exposure control alone (the chroma smoothing after it: test_chroma.py)
    target = auto.model.exposure
    assert isinstance(target, ExposureTarget) and target.brighten_share == 0
    out = auto.enhance_tensor(torch.cat([half, noisy_face]))  # (the same photo: the same size)
    auto.model.exposure = None
    raw = torch.cat([auto.enhance_tensor(half), auto.enhance_tensor(noisy_face)])
    predicted = target.predicted(half)
    assert_close(out[:1], target.settle(raw[:1].clone(), exposure_features(half)), rtol=0, atol=1e-6)
    before, after = mean_luma(raw[:1, :, ::8, ::8]).log(), mean_luma(out[:1, :, ::8, ::8]).log()
    assert float(predicted) < float(before) - 0.1
    assert_close(after, before + target.share * (predicted - before), rtol=0, atol=1e-4)
    assert float(target.predicted(noisy_face)) > float(mean_luma(raw[1:, :, ::8, ::8]).log()) + 0.05
    assert_close(out[1:], raw[1:], rtol=0, atol=1e-5)


def test_video_frames_get_the_images_exposure_on_a_steady_clip(noisy_face):
    auto = Enhancer.from_pretrained("lowface-auto", device="cpu", gate=False)
    stream = FrameEnhancer(auto)
    frames = [stream(noisy_face) for _ in range(3)]
    image = auto.enhance_tensor(noisy_face)
    for frame in frames:
        assert_close(frame, image, rtol=0, atol=1e-6)


def test_exposure_smoother_follows_the_prediction_slowly():
    target = shipped_exposure()
    dark, bright = torch.full((1, 3, 8, 8), 0.05), torch.full((1, 3, 8, 8), 0.3)
    smoother = ExposureSmoother(target, momentum=0.5)
    first = float(smoother(dark))
    assert first == pytest.approx(float(target.predicted(dark)))
    second = float(smoother(bright))
    assert second == pytest.approx(0.5 * first + 0.5 * float(target.predicted(bright)))
