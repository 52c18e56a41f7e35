"""NIQE: MATLAB-style resizing, sanity on natural vs. degraded images, and agreement with basicsr's port."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
import warnings

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from conftest import assert_close

niqe_module = pytest.importorskip("lowface.metrics.niqe")
try:
    niqe_module.pristine_model()
except niqe_module.NIQEModelMissing as exc:
    pytest.skip(str(exc), allow_module_level=True)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut().astype(np.float64) / 255.0


def test_matlab_halving_keeps_constants_and_linear_ramps():
    assert_close(niqe_module.matlab_halve(np.full((20, 30), 7.0)), 7.0, rtol=1e-5, atol=1e-8)
    ramp = np.tile(np.arange(40.0), (16, 1))
    halved = niqe_module.matlab_halve(ramp)
    assert halved.shape == (8, 20)
    # output pixel j (0-based) is centred on input coordinate 2j + 0.5; cubic reproduces a line away from edges
    assert_close(halved[:, 3:-3], np.tile(2 * np.arange(20.0) + 0.5, (8, 1))[:, 3:-3], atol=1e-9, rtol=1e-7)


def test_natural_image_scores_better_than_its_noisy_and_blurred_versions(astronaut):
    rng = np.random.default_rng(0)
    clean = niqe_module.niqe(astronaut)
    noisy = niqe_module.niqe(np.clip(astronaut + rng.normal(0, 0.1, astronaut.shape), 0, 1))
    blurred = niqe_module.niqe(gaussian_filter(astronaut, (3, 3, 0)))
    assert 2.0 < clean < 5.0
    assert noisy > clean + 3 and blurred > clean + 1


def test_too_small_images_are_refused():
    with pytest.raises(ValueError, match="at least 96x96"):
        niqe_module.niqe(np.zeros((50, 200, 3)))


def _basicsr_niqe():
    """basicsr's own NIQE module, loaded from its files without running basicsr/__init__ (which needs
    torchvision): package stubs pointing at the installed folders."""
    root = importlib.util.find_spec("basicsr").submodule_search_locations[0]
    saved = {k: v for k, v in sys.modules.items() if k == "basicsr" or k.startswith("basicsr.")}
    try:
        for name, path in (
            ("basicsr", root),
            ("basicsr.utils", f"{root}/utils"),
            ("basicsr.metrics", f"{root}/metrics"),
        ):
            stub = types.ModuleType(name)
            stub.__path__ = [path]
            stub.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
            stub.__spec__.submodule_search_locations = [path]
            sys.modules[name] = stub
        registry = types.ModuleType("basicsr.utils.registry")
        registry.METRIC_REGISTRY = types.SimpleNamespace(register=lambda *a, **k: lambda f: f)
        sys.modules["basicsr.utils.registry"] = registry
        sys.modules["basicsr.utils"].bgr2ycbcr = importlib.import_module("basicsr.utils.color_util").bgr2ycbcr
        return importlib.import_module("basicsr.metrics.niqe")
    finally:
        for name in [k for k in sys.modules if k == "basicsr" or k.startswith("basicsr.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def _basicsr_score(rgb: np.ndarray) -> float:
    """basicsr's NIQE of an (H, W, 3) RGB image in [0, 1] (its port warns on flat blocks: silenced here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(_basicsr_niqe().calculate_niqe((rgb[..., ::-1] * 255).astype(np.float32), 0, input_order="HWC",
                                                    convert_to="y"))  # fmt: skip


def _emulate_float32_convolutions(monkeypatch) -> None:
    """This module's convolutions in float32, as basicsr's port computes them."""
    real_convolve = niqe_module.convolve
    monkeypatch.setattr(
        niqe_module, "convolve",
        lambda a, w, mode: real_convolve(a.astype(np.float32), w.astype(np.float32), mode=mode),
    )  # fmt: skip


def test_agrees_with_basicsr_when_its_float32_convolutions_are_emulated(astronaut, monkeypatch):
    """basicsr convolves in float32 (3.065 on the astronaut); this module in float64 like MATLAB (3.100).
    With float32 convolutions emulated the two agree to 1e-3: the algorithm is the same."""
    reference = _basicsr_score(astronaut)
    _emulate_float32_convolutions(monkeypatch)
    assert niqe_module.niqe(astronaut) == pytest.approx(reference, abs=1e-3)
    monkeypatch.undo()
    assert niqe_module.niqe(astronaut) == pytest.approx(reference, abs=0.05)


def test_flat_black_blocks_are_left_out_silently_as_basicsr_leaves_them_out(astronaut, monkeypatch):
    """A night photo's black sky gives blocks with no negative (or positive) normalised values: NaN features that
    the mean and covariance leave out. Same score as basicsr's port, and no NumPy warning on the way."""
    dark = astronaut.copy()
    dark[:288, :192] = 0.0  # six 96x96 blocks of pure black
    reference = _basicsr_score(dark)
    _emulate_float32_convolutions(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = niqe_module.niqe(dark)
    assert np.isfinite(score)
    assert score == pytest.approx(reference, abs=1e-3)


@pytest.mark.parametrize("level", [0.0, 1.0])
def test_a_frame_without_texture_scores_nan_instead_of_failing(level: float):
    """All blocks flat: no distribution to compare with the pristine one. NaN (left out of the bench's means), not
    numpy.linalg's "SVD did not converge" from a covariance of no blocks."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(niqe_module.niqe(np.full((200, 300, 3), level)))
