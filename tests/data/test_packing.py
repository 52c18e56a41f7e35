import numpy as np
import pytest

from lowface.data.packing import packed


def test_equal_arrays_become_views_of_one_block_with_the_same_values():
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (5, 4, 3), dtype=np.uint8) for _ in range(6)]
    result = packed(iter(arrays), len(arrays))
    assert all(np.array_equal(a, b) for a, b in zip(arrays, result, strict=True))
    block = result[0].base
    assert block is not None and block.shape == (6, 5, 4, 3)
    assert all(r.base is block for r in result)


def test_another_shape_or_dtype_stays_a_separate_array():
    arrays = [np.zeros((2, 2)), np.ones((2, 2)), np.full((3, 2), 2.0), np.ones((2, 2), np.float32)]
    result = packed(arrays, 4)
    assert [r.shape for r in result] == [(2, 2), (2, 2), (3, 2), (2, 2)]
    assert result[0].base is result[1].base is not None
    assert result[2] is arrays[2] and result[3] is arrays[3]
    assert result[1].sum() == 4 and result[3].dtype == np.float32


def test_a_wrong_count_is_an_error():
    with pytest.raises(ValueError, match="expected 3 arrays, got 2"):
        packed([np.zeros(2), np.zeros(2)], 3)
    with pytest.raises(ValueError, match="expected 1 arrays, got 2"):
        packed([np.zeros(2), np.zeros(2)], 1)
