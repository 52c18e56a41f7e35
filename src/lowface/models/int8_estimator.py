"""The illumination estimator with int8 convolutions on a CPU (oneDNN), from the ranges its quantisers tracked.

Why: on a CPU without AMX the estimator (eleven 3x3 convolutions at 1/8 of a 1080p frame) was the largest block of
bfloat16 work left beside the int8 U-Net (:mod:`lowface.models.int8`): one estimate 42 ms on one thread of a 2-core
AMD EPYC in bfloat16, 20 ms in int8 (``benchmarks/results/int8/README.md``, round 8).

How: the context and each map a convolution writes are uint8 on their own grids (a concatenation's two halves on one,
the wider), weights int8 per output channel, the ReLUs fused into the convolutions as oneDNN post-ops; the last
convolution writes float32 and the sigmoid follows. oneDNN pads with each grid's zero point, the float path's zeros.
Only where oneDNN sums int8 products exactly (VNNI, :func:`lowface.models.precision.exact_int8_sums`): its 16-bit
partial sums elsewhere saturate on these maps.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lowface.models.int8 import Grid, QuantisedConvolution, input_grid, quantised

# The illumination estimator's maps in the order they are made, each with the map its convolution reads; the two
# concatenations' halves share one grid (cat([conv2, conv3]) -> conv4, cat([conv1, conv4]) -> conv5).
ESTIMATOR_SOURCES = {
    "conv1": "input", "conv2": "conv1", "conv3": "conv2", "conv4": "conv2", "conv5": "conv1", "conv6": "conv5",
    "head0": "conv6", "head1": "head0", "head2": "head1", "head3": "head2", "head4": "head3",
}  # fmt: skip
ESTIMATOR_SHARED = (("conv2", "conv3"), ("conv1", "conv4"))


def estimator_grids(ranges: dict[str, tuple[float, float]]) -> dict[str, Grid]:
    """The grid of each map an :class:`~lowface.models.enhance_net.IlluminationEstimator` convolution reads, from the
    ranges its quantisers tracked (keys ``input``, ``conv1`` .. ``conv6``, ``head0`` .. ``head3``): a concatenation's
    two halves on one grid (the wider of the two), the context on [0, 1] at least (:func:`input_grid`)."""
    ranges = dict(ranges)
    for pair in ESTIMATOR_SHARED:
        low, high = min(ranges[n][0] for n in pair), max(ranges[n][1] for n in pair)
        ranges.update(dict.fromkeys(pair, (low, high)))
    grids = {name: Grid.spanning(*span) for name, span in ranges.items() if name != "input"}
    return {"input": input_grid(*ranges["input"]), **grids}


class Int8Estimator:
    """An :class:`~lowface.models.enhance_net.IlluminationEstimator` with int8 convolutions (weights packed once, here),
    built from its calibrated ``quantisers``: (B, 3, h, w) float32 context -> (B, 3, h, w) float32 residual
    illumination in [0, 1], channels-last. Each map is uint8 on its grid, the ReLU fused into the convolution that
    writes it; the last convolution writes float32 and the sigmoid follows. Why: eleven 3x3 convolutions at 1/8 of a
    1080p frame, 38 ms of the default's 320 in bfloat16 on an AMD EPYC without AMX, 20 in int8
    (``benchmarks/results/int8/``)."""

    def __init__(self, estimator: nn.Module):
        self.grids = estimator_grids({name: q.span() for name, q in estimator.quantisers.items()})
        layers = estimator.convolutions()
        self.convolutions = {
            name: QuantisedConvolution(conv, self.grids[ESTIMATOR_SOURCES[name]], self.grids.get(name),
                                       bias=conv.bias, activation="relu" if relu else "none")
            for name, (conv, relu) in layers.items()
        }  # fmt: skip

    def __call__(self, context: Tensor) -> Tensor:
        maps = {"input": quantised(context.float().contiguous(memory_format=torch.channels_last), self.grids["input"])}
        for name, convolution in self.convolutions.items():
            maps[name] = convolution(estimator_source(maps, name))
        return maps["head4"].sigmoid_()


def estimator_source(maps: dict[str, Tensor], name: str) -> Tensor:
    """What the estimator's convolution ``name`` reads, from the ``maps`` made before it: its source map, or (conv4,
    conv5) the concatenation it reads."""
    if name == "conv4":
        return torch.cat([maps["conv2"], maps["conv3"]], 1)
    if name == "conv5":
        return torch.cat([maps["conv1"], maps["conv4"]], 1)
    return maps[ESTIMATOR_SOURCES[name]]
