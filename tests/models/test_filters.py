"""The shared filters: OpenCV stands in for PyTorch's slower CPU kernels only where it gives the same values."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import assert_close
from lowface.filters import area_downsample, box_mean, exp_, gaussian_blur, log_, luma, upsample_bilinear
from lowface.models.enhance_net import clamp_passing_gradient


@pytest.mark.parametrize("scale", [4, 8, 12])
def test_upsampling_through_opencv_equals_pytorch(scale: int):
    x = torch.rand(2, 6, 9, 14, generator=torch.Generator().manual_seed(scale))
    reference = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    with torch.no_grad():
        fast = upsample_bilinear(x, scale)
    assert fast.shape == reference.shape and fast.is_contiguous()
    assert_close(fast, reference, atol=1e-5, rtol=0)  # float32 rounding of the sample positions
    x.requires_grad_(True)
    upsample_bilinear(x, scale).sum().backward()  # with a gradient to pass it is PyTorch's op
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("sigma", [2.0, 4.0, 8.0])
def test_blurring_through_opencv_equals_pytorch(sigma: float):
    x = torch.rand(2, 3, 61, 77, generator=torch.Generator().manual_seed(int(sigma)))
    reference = gaussian_blur(x.double(), sigma).float()  # float64: PyTorch's path
    with torch.no_grad():
        fast = gaussian_blur(x, sigma)
    assert_close(fast, reference, atol=1e-6, rtol=0)
    tiny = torch.rand(1, 3, 10, 10)  # smaller than the kernel: replicate padding, PyTorch's path
    assert gaussian_blur(tiny, 8.0).shape == tiny.shape


@pytest.mark.parametrize("radius", [1, 2, 5])
def test_box_means_through_opencv_equal_pytorch_and_count_only_in_image_pixels(radius: int):
    x = torch.rand(2, 4, 23, 31, generator=torch.Generator().manual_seed(radius))
    reference = F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    with torch.no_grad():
        fast = box_mean(x, radius)
        ones = box_mean(torch.ones(1, 1, 7, 9), radius)
    assert_close(fast, reference, atol=1e-6, rtol=0)
    assert torch.equal(ones, torch.ones_like(ones))  # borders: a mean over the pixels inside the image


def test_luma_written_into_a_buffer_is_the_same_luma():
    rgb = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(1))
    out = torch.full((2, 1, 5, 7), float("nan"))
    assert luma(rgb, out=out) is out
    assert_close(out, luma(rgb), rtol=0, atol=2e-7)


@pytest.mark.parametrize("size", [(24, 32), (27, 30), (48, 48)])  # blocks that tile the image (OpenCV), partial ones
@pytest.mark.parametrize("factor", [2, 3, 4, 6, 8, 16])  # (OpenCV: powers of two as successive halvings)
def test_area_downsampling_equals_ceil_mode_average_pooling(size: tuple[int, int], factor: int):
    x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(factor))
    reference = F.avg_pool2d(x, factor, ceil_mode=True)
    with torch.no_grad():
        fast = area_downsample(x, factor)
    assert fast.shape == reference.shape
    assert_close(fast, reference, atol=1e-6, rtol=0)


def test_opencv_filters_take_any_memory_layout():
    """Bands and channels-last maps (views with strides) give the values of their contiguous copies."""
    x = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    views = [x[..., 8:24, :], x.contiguous(memory_format=torch.channels_last), x[:, 1:]]
    with torch.no_grad():
        for view in views:
            copy = view.contiguous()
            assert torch.equal(upsample_bilinear(view, 4), upsample_bilinear(copy, 4))
            assert torch.equal(gaussian_blur(view, 2.0), gaussian_blur(copy, 2.0))
            assert torch.equal(box_mean(view, 2), box_mean(copy, 2))
            assert torch.equal(area_downsample(view, 4), area_downsample(copy, 4))


def test_logarithm_and_exponential_in_place_equal_pytorch_on_bands_and_leave_the_rest_of_the_map():
    """OpenCV's log and exp (the illumination's power law, the log gain) on a band of rows of a batch: the band's
    values to float32 rounding, written into the map itself; rows outside the band and other layouts untouched."""
    x = torch.rand(2, 3, 40, 48, generator=torch.Generator().manual_seed(1)) + 1 / 255
    with torch.no_grad():
        for function, reference in ((log_, torch.log), (exp_, torch.exp)):
            mapped = x.clone()
            assert function(mapped[..., 8:24, :]).data_ptr() == mapped[..., 8:24, :].data_ptr()
            assert_close(mapped[..., 8:24, :], reference(x[..., 8:24, :]), atol=0, rtol=1e-6)
            assert torch.equal(mapped[..., :8, :], x[..., :8, :]) and torch.equal(mapped[..., 24:, :], x[..., 24:, :])
            strided = x.contiguous(memory_format=torch.channels_last)  # rows not contiguous: PyTorch's op
            assert_close(function(strided.clone()), reference(x), atol=0, rtol=1e-6)
    with torch.enable_grad():  # outside plain inference: PyTorch's op, exactly
        assert torch.equal(log_(x.clone()), torch.log(x)) and torch.equal(exp_(x.clone()), torch.exp(x))


def test_the_straight_through_clamp_clamps_the_same_with_or_without_a_gradient():
    x = torch.linspace(-1, 2, 31)
    with torch.no_grad():
        plain = clamp_passing_gradient(x, 0.0, 1.0)
    x.requires_grad_(True)
    passing = clamp_passing_gradient(x, 0.0, 1.0)
    assert torch.equal(plain, passing.detach())
    passing.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))  # the gradient passes outside [0, 1] too
