"""The tests' own tolerance check fails when it should (a check that cannot fail would pass every test)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_close


def test_assert_close_accepts_within_tolerance_and_any_kind_of_array():
    assert_close(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]))
    assert_close([0.5, 0.5], 0.5)  # against a scalar: every element
    assert_close(torch.tensor([1.0]), [1.01], atol=0.02, rtol=0)


@pytest.mark.parametrize(
    ("actual", "expected", "message"),
    [
        (torch.tensor([1.0, 2.0]), [1.0, 2.1], r"not within atol=1e-08, rtol=1e-05: at \(1,\) 2.0 vs 2.1"),
        (np.zeros((2, 3)), np.zeros((3, 2)), r"shapes differ: \(2, 3\) vs \(3, 2\)"),
        (np.array([np.nan]), [0.0], "not within"),
    ],
)
def test_assert_close_fails_with_the_worst_element(actual, expected, message):
    with pytest.raises(AssertionError, match=message):
        assert_close(actual, expected)
