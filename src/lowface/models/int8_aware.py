"""Simulated 8-bit activations, for training a network that will run its convolutions in int8 (issue 22).

Post-training int8 of the restoring U-Net costs SICE val SSIM 0.004 (benchmarks/results/int8/): the grain of 8-bit
activations reaches the noise estimate, whichever level is quantised. Quantisation-aware training lets the network
learn around that grain: each activation a convolution reads is rounded to 256 levels in the forward pass (one
range per map, as oneDNN's int8 convolutions take it) and passed straight through in the backward pass. The ranges
are tracked while training (a moving average of each batch's minimum and maximum) and saved with the weights: they
are the scales an int8 runtime quantises with.

What is simulated is each map rounded onto its own grid. The runtime (:mod:`lowface.models.int8`) differs in two ways
that this does not model: a convolution's pre-activation is rounded first (onto a grid reaching further below zero,
then a table applies the leaky ReLU), and the last decoder step's output stays floating point. Calibration does not
need them (the ranges are those of the maps); quantisation-aware training against the runtime would.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

LEVELS = 255  # uint8 activations: 0..255


class ActivationQuantiser(nn.Module):
    """(..) float map -> the same map rounded to 256 evenly spaced levels between its tracked ``low`` and ``high``
    (values outside clamped), gradients passed straight through inside the range.

    In training mode each batch's minimum and maximum move the range by ``momentum`` (the first batch sets it; None:
    the range is the mean of every batch's, as a calibration over a fixed set of images wants); in eval mode the range
    is fixed. ``low`` never exceeds 0 and ``high`` never falls below it, so that zero (the
    convolutions' zero padding, a leaky ReLU's fixed point) is exactly a level.
    """

    def __init__(self, momentum: float | None = 0.01):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("low", torch.zeros(()))
        self.register_buffer("high", torch.zeros(()))
        self.register_buffer("batches", torch.zeros((), dtype=torch.int64))

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            with torch.no_grad():
                low, high = x.detach().float().aminmax()
                seen = int(self.batches)
                share = 1.0 / (seen + 1) if self.momentum is None or seen == 0 else self.momentum
                self.low.lerp_(low.clamp_max(0.0), share)
                self.high.lerp_(high.clamp_min(0.0), share)
                self.batches += 1
        if int(self.batches) == 0:  # never calibrated: nothing to round to
            return x
        scale, zero_point = self.scale_and_zero_point()
        return torch.fake_quantize_per_tensor_affine(x.float(), scale, zero_point, 0, LEVELS).to(x.dtype)

    def scale_and_zero_point(self) -> tuple[Tensor, Tensor]:
        """The uint8 encoding of the range: value = scale * (level - zero_point); scale float32, zero_point int32."""
        scale = ((self.high - self.low) / LEVELS).clamp_min(1e-8)
        zero_point = torch.round(-self.low / scale).clamp(0, LEVELS).to(torch.int32)
        return scale.float(), zero_point
