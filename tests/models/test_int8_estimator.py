"""int8 convolutions for the illumination estimator: its simulated 8-bit maps (calibration, quantisation-aware
training) and the oneDNN runtime built from their ranges."""

from __future__ import annotations

import copy

import pytest
import torch

from conftest import needs_int8
from lowface.models.enhance_net import IlluminationEstimator
from lowface.models.precision import conv_precision, exact_int8_sums

# the estimator runs int8 only where oneDNN sums int8 products exactly (VNNI): elsewhere its float path
needs_exact_sums = pytest.mark.skipif(not exact_int8_sums(), reason="no VNNI here: the estimator runs its float path")


def calibrated_estimator(width: int = 8) -> IlluminationEstimator:
    """A small int8-aware estimator whose weights act (the paper's 0.02 initialisation barely moves the sigmoid),
    calibrated on dark random contexts."""
    torch.manual_seed(0)
    estimator = IlluminationEstimator(width, (2 * width, 2 * width, width, 4), int8_aware=True).eval()
    for conv, _relu in estimator.convolutions().values():
        torch.nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        torch.nn.init.uniform_(conv.bias, -0.05, 0.05)
    estimator.quantisers.train()
    with torch.inference_mode():
        for seed in range(4):
            estimator(torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(seed)) * 0.4)
    estimator.quantisers.eval()
    return estimator


def int8_case(seed: int) -> tuple[IlluminationEstimator, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A calibrated estimator, a batch of two odd-sized dark contexts, its output on them in float32 and in int8."""
    estimator = calibrated_estimator()
    x = torch.rand(2, 3, 29, 37, generator=torch.Generator().manual_seed(seed)) * 0.4
    with torch.inference_mode():
        with conv_precision(torch.float32):
            reference = estimator(x)
        with conv_precision(torch.int8):
            return estimator, x, reference, estimator(x)


def test_the_estimator_names_its_convolutions_in_order_with_their_activations():
    estimator = IlluminationEstimator(8, (16, 16, 8, 4))
    layers = estimator.convolutions()
    assert list(layers) == [*(f"conv{i}" for i in range(1, 7)), *(f"head{i}" for i in range(5))]
    assert [relu for _conv, relu in layers.values()] == [True] * 6 + [False, True, False, False, False]
    assert layers["head4"][0].out_channels == 3 and layers["conv4"][0].in_channels == 16


def test_an_uncalibrated_int8_aware_estimator_asked_for_int8_runs_its_float_path():
    estimator = IlluminationEstimator(8, (16, 16, 8, 4), int8_aware=True).eval()
    x = torch.rand(1, 3, 24, 32) * 0.3
    with torch.inference_mode():
        with conv_precision(torch.int8):
            int8 = estimator(x)
        with conv_precision(torch.float32):
            reference = estimator(x)
    assert not estimator.calibrated() and torch.equal(int8, reference)


def test_without_exact_int8_sums_a_calibrated_estimator_runs_its_float_path(monkeypatch):
    """oneDNN's int8 kernels without VNNI sum pairs of products in saturating 16 bits, which the estimator's maps
    overflow: there it runs in the float precision beside int8."""
    import lowface.models.enhance_net as enhance_net

    monkeypatch.setattr(enhance_net, "exact_int8_sums", lambda: False)
    estimator = calibrated_estimator()
    x = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(6)) * 0.4
    with torch.inference_mode():
        with conv_precision(torch.int8):
            assert not estimator.runs_int8(x)
            int8 = estimator(x)
        with conv_precision(torch.float32):
            reference = estimator(x)
    assert torch.equal(int8, reference)


@needs_int8
@needs_exact_sums
def test_the_int8_estimator_follows_the_float_estimator_to_its_borders():
    estimator, x, reference, int8 = int8_case(seed=7)
    with torch.inference_mode(), conv_precision(torch.int8):
        assert estimator.runs_int8(x)
        alone = estimator(x[1:])
    difference = (int8 - reference).abs()
    assert int8.shape == x.shape and int8.dtype == torch.float32 and float(int8.min()) >= 0 and float(int8.max()) <= 1
    assert 0 < float(difference.mean()) < 0.01, "int8 is the estimator, to within its rounding"
    border = torch.cat([difference[..., 0, :].flatten(), difference[..., -1, :].flatten(),
                        difference[..., :, 0].flatten(), difference[..., :, -1].flatten()])  # fmt: skip
    assert float(border.mean()) < 3 * float(difference.mean()) + 2e-3, "zero padding kept at the borders"
    assert torch.allclose(alone, int8[1:], atol=1e-5), "each image of a batch on its own"


@needs_int8
@needs_exact_sums
def test_the_estimator_simulation_computes_what_its_int8_runtime_computes():
    estimator, x, reference, runtime = int8_case(seed=8)
    with torch.inference_mode():
        for quantiser in estimator.quantisers.values():
            quantiser.momentum = 0.0  # the ranges stay as calibrated
        estimator.quantisers.train()
        simulated = estimator(x)
    rounding = (runtime - reference).abs().mean()
    assert float(rounding) > 1e-4, "the runtime rounds"
    assert float((simulated - runtime).abs().mean()) < 0.05 * float(rounding), "the simulation rounds the same way"


def test_training_an_int8_aware_estimator_rounds_its_maps_and_passes_gradients():
    estimator = calibrated_estimator().train()
    x = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(5)) * 0.4
    with torch.no_grad():
        plain = estimator.eval()(x)  # eval: the float estimator
    estimator.train()
    high_before = float(estimator.quantisers["conv3"].high)
    trained = estimator(x)
    trained.mean().backward()
    assert not torch.equal(trained.detach(), plain)
    assert float(estimator.quantisers["conv3"].high) != high_before  # training moves the ranges
    for name in ("conv1", "conv5", "head4"):
        gradient = estimator.convolutions()[name][0].weight.grad
        assert gradient is not None and torch.isfinite(gradient).all() and float(gradient.abs().sum()) > 0


@needs_int8
def test_the_estimator_runtime_is_packed_once_rebuilt_after_a_change_and_left_out_of_a_copy():
    estimator = calibrated_estimator()
    x = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(3)) * 0.4
    with torch.inference_mode(), conv_precision(torch.int8):
        before = estimator(x)
        runtime = estimator.int8_runtime()
        assert estimator.int8_runtime() is runtime
    copied = copy.deepcopy(estimator)
    assert "_int8" in estimator.__dict__ and "_int8" not in copied.__dict__
    with torch.inference_mode(), conv_precision(torch.int8):
        assert torch.equal(copied(x), before)
        estimator.conv6.weight.mul_(2.0)
        after = estimator(x)
    assert estimator.int8_runtime() is not runtime and not torch.equal(before, after)


@needs_int8
@needs_exact_sums
def test_the_shipped_restoring_network_estimates_its_illumination_in_int8_when_asked():
    from lowface.inference.enhancer import Enhancer

    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(2)) * 0.25
    int8 = Enhancer.from_pretrained("lowface-restore-real", device="cpu", gate=False, precision="int8")
    estimator = int8.model.enhancer.estimator
    assert estimator.calibrated()
    with_int8 = int8.enhance_tensor(x)
    quantisers, estimator.quantisers = estimator.quantisers, None  # the estimator in the float precision beside int8
    try:
        without = int8.enhance_tensor(x)
    finally:
        estimator.quantisers = quantisers
    difference = (with_int8 - without).abs()
    assert 0 < float(difference.mean()) < 0.005 and float(difference.max()) < 0.1
