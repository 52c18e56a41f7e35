"""BRISQUE against the values of the PyPI ``brisque`` 0.2.0 package (its own code with libsvm 3.37, run once on
this machine; numpy 2 needs its 1-element feature arrays flattened), and the safety of its model loading."""

from __future__ import annotations

import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from lowface.io import read_image
from lowface.metrics import brisque as brisque_module

# path under the data root -> score by brisque 0.2.0 (uint8 input)
REFERENCE = {
    "lowlight_real/DICM/01.jpg": (9.883249059074814, 1e-3),
    "lowlight_real/LIME/1.bmp": (18.26830850525775, 1e-3),
    # LFW's black borders give MSCN values of exactly 0 whose sign decides which side of the asymmetric fit
    # they join; round-off at 1e-11 moves them, so implementations agree to about 0.01 here
    "lfw/lfw-deepfunneled/Aaron_Peirsol/Aaron_Peirsol_0001.jpg": (37.68260815351684, 0.05),
}


@pytest.fixture(scope="module")
def model_installed() -> None:
    try:
        brisque_module.load_model()
    except brisque_module.BRISQUEModelMissing as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("relative", sorted(REFERENCE))
def test_brisque_matches_the_reference_package(model_installed, data_root: Path, relative: str):
    expected, tolerance = REFERENCE[relative]
    rgb = np.round(read_image(data_root / relative).rgb.astype(np.float64) * 255) / 255
    assert brisque_module.brisque(rgb) == pytest.approx(expected, abs=tolerance)


def test_brisque_ranks_blur_and_noise_as_worse(model_installed, lfw_faces):
    face = lfw_faces[1].astype(np.float64)
    noisy = np.clip(face + np.random.default_rng(0).normal(0, 0.08, face.shape), 0, 1)
    assert brisque_module.brisque(noisy) > brisque_module.brisque(face) + 10


def test_normalisation_file_may_hold_only_plain_data():
    class Payload:
        def __reduce__(self):
            return (eval, ("1 + 1",))  # not print: a Ray session in the same process replaces builtins.print

    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load builtins\.eval"):
        brisque_module._PlainDataUnpickler(io.BytesIO(pickle.dumps(Payload()))).load()
    plain = {"min_": [0.1, 0.2], "max_": [1.0, 2.0]}
    assert brisque_module._PlainDataUnpickler(io.BytesIO(pickle.dumps(plain))).load() == plain


@pytest.mark.parametrize("level", [0.0, 1.0])
def test_an_image_without_texture_scores_nan_without_warnings(model_installed, level: float):
    """A black (lens cap) or blown-out frame has no statistics to fit: NaN, which the bench and ``lowface score``
    leave out of their means, rather than NumPy's empty-slice warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(brisque_module.brisque(np.full((64, 80, 3), level)))
        textured = np.random.default_rng(0).random((64, 80, 3))
        assert np.isfinite(brisque_module.brisque(textured))
