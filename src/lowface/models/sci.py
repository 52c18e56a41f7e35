"""SCI: self-calibrated illumination learning (Ma et al., CVPR 2022).

A tiny illumination estimator (weights shared across stages) maps the current stage input v_t to an
illumination x_t = clamp(v_t + H(v_t), 1e-4, 1); the reflectance is y_t = clamp(z / x_t, 0, 1). A
self-calibration module K turns y_t into a correction that defines the next stage's input,
v_{t+1} = z + K(y_t), pulling every stage towards the same illumination. Training runs ``stages`` stages;
inference runs the first stage only (the calibration module is discarded), so the deployed model is three
3x3 convolutions.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from lowface.models.base import EnhancementModel
from lowface.models.enhance_net import retinex_divide
from lowface.registry import MODELS


class SCIOutput(NamedTuple):
    """Enhanced image and illumination (B, 3, H, W); per stage (training only) the inputs and illuminations."""

    reflectance: Tensor
    illumination: Tensor
    stage_inputs: list[Tensor]
    stage_illuminations: list[Tensor]

    @property
    def image(self) -> Tensor:
        """The enhanced image: the reflectance."""
        return self.reflectance


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class _ResidualTrunk(nn.Module):
    """in conv -> ``blocks`` residual applications of ONE shared block -> sigmoid out conv."""

    def __init__(self, width: int, blocks: int, block: nn.Module, in_layer: nn.Module):
        super().__init__()
        self.in_layer, self.block, self.blocks = in_layer, block, blocks
        self.out_layer = nn.Sequential(nn.Conv2d(width, 3, 3, padding=1), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        features = self.in_layer(x)
        for _ in range(self.blocks):
            features = features + self.block(features)
        return self.out_layer(features)


@MODELS.register("sci")
class SCI(EnhancementModel):
    """SCI with the paper's sizes: estimator of width 3 with one shared block (258 parameters at inference),
    calibrator of width 16 with three applications of one shared two-layer block.

    Example:
        >>> import torch
        >>> SCI().eval()(torch.rand(1, 3, 32, 32)).reflectance.shape
        torch.Size([1, 3, 32, 32])
    """

    size_multiple = 1
    default_tile = 2048

    def __init__(self, stages: int = 3, width: int = 3, calibrator_width: int = 16, calibrator_blocks: int = 3):
        super().__init__()
        self.stages = stages
        self.estimator = _ResidualTrunk(
            width, 1, _conv_bn_relu(width, width), nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
        )
        self.calibrator = _ResidualTrunk(
            calibrator_width,
            calibrator_blocks,
            nn.Sequential(_conv_bn_relu(calibrator_width, calibrator_width), _conv_bn_relu(calibrator_width,
                                                                                             calibrator_width)),
            _conv_bn_relu(3, calibrator_width),
        )  # fmt: skip
        # in conv + shared block + out conv (inference: estimator only).
        self.receptive_radius = 3

    def forward(self, z: Tensor) -> SCIOutput:
        """z: (B, 3, H, W) in [0, 1] -> SCIOutput; in eval mode one stage and empty stage lists."""
        stage_input, inputs, illuminations, reflectances = z, [], [], []
        for stage in range(self.stages if self.training else 1):
            if stage:
                stage_input = z + (reflectances[-1] - self.calibrator(reflectances[-1]))
            reflectance, illumination = retinex_divide(z, stage_input + self.estimator(stage_input))
            inputs.append(stage_input)
            illuminations.append(illumination)
            reflectances.append(reflectance)
        if not self.training:
            return SCIOutput(reflectances[0], illuminations[0], [], [])
        return SCIOutput(reflectances[0], illuminations[0], inputs, illuminations)
