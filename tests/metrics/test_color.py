"""CIEDE2000 against Sharma, Wu and Dalal's published test pairs; brightness matching; the real-pairs metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_close, smooth_test_image
from lowface.bench.real_pairs import box_iou, face_agreement, match_faces, pair_fidelity
from lowface.filters import rgb_to_lab
from lowface.io import image_to_tensor
from lowface.metrics.color import ciede2000, delta_e2000, match_brightness

# (L1, a1, b1), (L2, a2, b2), CIEDE2000 - pairs 1, 2, 3, 4, 7, 13, 17 and 34 of Sharma et al. (2005), Table 1
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.4900, -0.0010), (50.0, -2.4900, 0.0009), 7.1792),
    ((50.0, 2.5, 0.0), (50.0, 0.0, -2.5), 4.3065),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_ciede2000_matches_sharmas_test_data(lab1, lab2, expected):
    value = delta_e2000(torch.tensor(lab1, dtype=torch.float64)[None], torch.tensor(lab2, dtype=torch.float64)[None])
    assert value.item() == pytest.approx(expected, abs=1e-4)


def test_lab_of_white_grey_and_black_and_symmetry():
    greys = torch.tensor([1.0, 0.5, 0.0]).view(1, 1, 1, 3).expand(1, 3, 1, 3)  # white, mid-grey, black pixels
    lab = rgb_to_lab(greys)
    assert lab[0, 0, 0].tolist() == pytest.approx([100.0, 53.389, 0.0], abs=0.01)  # L of white, mid-grey, black
    assert_close(lab[0, 1:], 0.0, atol=0.01, rtol=0)  # greys have no chroma
    a, b = (image_to_tensor(smooth_test_image(16, 16, seed=s)) for s in (0, 3))
    assert ciede2000(a, b).item() == pytest.approx(ciede2000(b, a).item(), rel=1e-9)
    assert ciede2000(a, a).item() == 0.0


def test_brightness_matching_gives_the_reference_mean_luma_and_undoes_a_gain():
    reference = image_to_tensor(smooth_test_image(24, 24) * 0.8)
    dark = reference * 0.25
    matched = match_brightness(dark, reference)
    assert_close(matched, reference, atol=1e-6, rtol=1e-5)
    assert (
        pair_fidelity([dark[0].permute(1, 2, 0).numpy()], [reference[0].permute(1, 2, 0).numpy()])["psnr_matched"] > 100
    )


def test_pair_fidelity_reports_raw_and_matched_figures():
    reference = smooth_test_image(32, 32)
    dark = (reference * 0.3).astype(np.float32)
    figures = pair_fidelity([dark], [np.round(reference * 255).astype(np.uint8)])
    assert set(figures) == {f"{m}{s}" for m in ("psnr", "ssim", "ciede2000") for s in ("", "_matched")}
    assert figures["psnr_matched"] > figures["psnr"] + 10 and figures["ciede2000_matched"] < figures["ciede2000"]


def test_faces_are_matched_one_to_one_by_iou_and_the_rest_are_invented():
    face = np.array([10.0, 10, 50, 50])
    assert box_iou(face, face) == 1.0 and box_iou(face, face + 100) == 0.0
    assert box_iou(face, np.array([30.0, 10, 70, 50])) == pytest.approx(1 / 3)
    assert match_faces([face, face + 1], [face]) == 1  # one reference face matches one detection only
    found = [[face + 2, np.array([200.0, 200, 220, 220])], []]
    assert face_agreement(found, [[face], [face]]) == {"found": 1, "invented": 1, "reference_faces": 2}
