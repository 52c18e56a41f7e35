"""A narrower student started from its teacher: the teacher's strongest channels, not a random initialisation.

Distilling a network into a narrower copy of itself converges far sooner from the teacher's own filters than from
scratch (structured pruning, Li et al. 2017, "Pruning filters for efficient ConvNets"): every convolution keeps the
output channels whose filters carry the most weight (L1 norm of the filter times the L1 norm of what its consumers
read from that channel), and each consumer keeps the matching input slices, so a channel that the teacher never
uses costs nothing to drop and the student starts as a close approximation of the teacher. Here for
:class:`lowface.models.restore_net.ReflectanceDenoiser`, the restoring network's U-Net (most of its cost).

The pointwise tone head is a small function of four numbers per pixel; a narrower one starts from a fit to the
teacher's function on the inputs it meets (:func:`fitted_tone`), which pruning half its hidden units would not
approximate.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lowface.models.restore_net import PointwiseTone, ReflectanceDenoiser, level_widths

# The U-Net's convolutions: name -> (the producers its input channels come from, in concatenation order; level).
# "input" is the folded image; level 1, 2, 3 = the widths of the three levels, 4 = the last decoder step's
# (level_widths); 0 = the output layer.
DENOISER_WIRING: dict[str, tuple[tuple[str, ...], int]] = {
    "encode1.0.0": (("input",), 1),
    "encode1.1.0": (("encode1.0.0",), 1),
    "encode2.0.0": (("encode1.1.0",), 2),
    "encode2.1.0": (("encode2.0.0",), 2),
    "bottom.0.0": (("encode2.1.0",), 3),
    "bottom.1.0": (("bottom.0.0",), 3),
    "bottom.2.0": (("bottom.1.0",), 3),
    "decode2.0": (("bottom.2.0", "encode2.1.0"), 2),
    "decode1.0": (("decode2.0", "encode1.1.0"), 4),
    "out": (("decode1.0",), 0),
}


def _input_slices(conv_name: str, convs: dict[str, nn.Conv2d]) -> list[tuple[str, int, int]]:
    """(producer, first input channel, channel count) for each part of ``conv_name``'s concatenated input."""
    parts, start = [], 0
    for producer in DENOISER_WIRING[conv_name][0]:
        count = convs[producer].out_channels if producer != "input" else convs[conv_name].in_channels
        parts.append((producer, start, count))
        start += count
    return parts


def channel_scores(teacher: ReflectanceDenoiser) -> dict[str, Tensor]:
    """For every convolution but the last: (out_channels,) importance of each output channel - the L1 norm of its
    filter times the L1 norm of the weights that its consumers apply to it."""
    convs = {name: teacher.get_submodule(name) for name in DENOISER_WIRING}
    scores = {name: conv.weight.detach().abs().sum((1, 2, 3)) for name, conv in convs.items() if name != "out"}
    read = {name: torch.zeros_like(score) for name, score in scores.items()}
    for consumer in DENOISER_WIRING:
        weight = convs[consumer].weight.detach().abs()
        for producer, start, count in _input_slices(consumer, convs):
            if producer != "input":
                read[producer] += weight[:, start : start + count].sum((0, 2, 3))
    return {name: scores[name] * read[name] for name in scores}


@torch.no_grad()
def narrowed_denoiser(teacher: ReflectanceDenoiser, width: int | Sequence[int]) -> ReflectanceDenoiser:
    """A :class:`ReflectanceDenoiser` of ``width`` (one width, one a level, or also the last decoder step's - see
    :func:`~lowface.models.restore_net.level_widths`; at most the teacher's at every level)
    holding the teacher's strongest channels at every level (:func:`channel_scores`), in their original order; at
    the teacher's own widths, the teacher. An int8-aware teacher gives an int8-aware student whose ranges are not
    yet tracked (its maps are not the teacher's: calibrate it again)."""
    widths = level_widths(width)
    if any(w > t for w, t in zip(widths, teacher.widths, strict=True)):
        raise ValueError(
            f"the student's widths {widths} must not exceed the teacher's {teacher.widths}, level by level"
        )
    student = ReflectanceDenoiser(widths, teacher.unshuffle, teacher.mirror_edges, teacher.quantisers is not None)
    convs = {name: teacher.get_submodule(name) for name in DENOISER_WIRING}
    kept = {
        name: score.topk(widths[DENOISER_WIRING[name][1] - 1]).indices.sort().values
        for name, score in channel_scores(teacher).items()
    }
    for name, conv in convs.items():
        rows = kept.get(name, torch.arange(conv.out_channels))
        columns = torch.cat([
            torch.arange(start, start + count) if producer == "input" else start + kept[producer]
            for producer, start, count in _input_slices(name, convs)
        ])  # fmt: skip
        target = student.get_submodule(name)
        target.weight.copy_(conv.weight[rows][:, columns])
        target.bias.copy_(conv.bias[rows])
    return student


def fitted_tone(teacher: PointwiseTone, width: int, inputs: Tensor, steps: int = 15000, seed: int = 0) -> PointwiseTone:
    """A ``width``-wide :class:`PointwiseTone` with the teacher's lift cap, margin and colour share whose correction
    before those bounds matches the teacher's on ``inputs`` ((N, 4): a pixel's reflectance and normalised log-gain,
    rows sampled where the teacher works): Adam on the mean of |e| + 20 e^2 (the square for the tails), batches of
    16k rows, a cosine schedule from 3e-3. For a head without a noise-level input."""
    if teacher.noise_in is not None:
        raise ValueError("fitted_tone fits heads without a noise-level input")
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # the student's initialisation from ``seed``, the caller's random state untouched
        torch.manual_seed(seed)
        student = PointwiseTone(width, lift_cap=teacher.lift_cap, lift_margin=teacher.lift_margin,
                                chroma_share=teacher.chroma_share)  # fmt: skip

    def correction(head: PointwiseTone, rows: Tensor) -> Tensor:  # (N, 4) -> (N, 3), the head's unbounded output
        return head.layers(rows.T[None, :, :, None])[0, :, :, 0].T

    with torch.no_grad():
        targets = torch.cat([correction(teacher, part) for part in inputs.split(200_000)])
    optimiser = torch.optim.Adam(student.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    for _ in range(steps):
        batch = torch.randint(0, len(inputs), (16384,), generator=generator)
        error = correction(student, inputs[batch]) - targets[batch]
        loss = error.abs().mean() + 20 * error.square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    return student.requires_grad_(False)
