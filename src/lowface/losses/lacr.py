"""Light-aware contrastive regularisation (LACR, seed 004) and LACR-VAE's paired objective.

LACR compares images in the latent space of LACR-VAE's encoder: the enhanced image's latent is pulled toward
the clean image's and pushed away from the low-light image's, as the ratio d(enh, clean) / d(enh, low) (the
clean and low latents carry no gradient). Paired (LACR-VAE training): d is the mean L1 between latent maps.
Unpaired (the drop-in term ``lacr`` of Low-FaceNet's objective, with unpaired positives and negatives): d is
the L1 between per-channel latent statistics (mean, standard deviation), as Low-FaceNet's own contrastive
term does with its features; the low-light input and the unpaired negative are both negatives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from lowface.losses.weighted import WeightedObjective

LACR_VAE_WEIGHTS = {"reconstruction": 1.0, "kl": 1e-4, "lacr": 0.1}
EPS = 1e-6


def channel_statistics(latent: Tensor) -> Tensor:
    """(B, C, h, w) -> (B, 2C): per-channel mean and standard deviation."""
    return torch.cat([latent.mean((2, 3)), latent.std((2, 3))], 1)


def lacr_ratio(enhanced: Tensor, positive: Tensor, negatives: list[Tensor]) -> Tensor:
    """Per-image mean L1 to the positive over the sum of those to the negatives, averaged over the batch;
    tensors (B, ...) of the same shape, positive and negatives detached by the caller."""

    def distance(a: Tensor, b: Tensor) -> Tensor:
        return (a - b).abs().flatten(1).mean(1)

    pull = distance(enhanced, positive)
    push = sum(distance(enhanced, negative) for negative in negatives)
    return (pull / (push + EPS)).mean()


class LACRTerm(nn.Module):
    """The unpaired drop-in: LACR in a frozen LACR-VAE encoder's latent statistics."""

    def __init__(self, latent: Callable[[Tensor], Tensor]):
        super().__init__()
        self.latent = latent

    def forward(self, enhanced: Tensor, positive: Tensor, low: Tensor, negative: Tensor) -> Tensor:
        with torch.no_grad():
            anchors = [channel_statistics(self.latent(x)) for x in (positive, low, negative)]
        return lacr_ratio(channel_statistics(self.latent(enhanced)), anchors[0], anchors[1:])


class LACRVAEObjective(WeightedObjective):
    """Paired: L1 to the clean crop, KL of the latent to N(0, I) (per element), LACR in the model's own latent.

    ``latent``: the model's encoder (x -> latent mean), the same module being trained."""

    def __init__(self, weights: Mapping[str, float] | None, latent: Callable[[Tensor], Tensor]):
        super().__init__(weights or {}, LACR_VAE_WEIGHTS)
        self.latent = latent

    def terms(self, output, batch):
        def lacr() -> Tensor:
            with torch.no_grad():
                clean, low = self.latent(batch["clean"]), self.latent(batch["low"])
            return lacr_ratio(self.latent(output.image), clean, [low])

        def kl() -> Tensor:
            return 0.5 * (output.mean.pow(2) + output.log_variance.exp() - 1 - output.log_variance).mean()

        return {
            "reconstruction": lambda: (output.image - batch["clean"]).abs().mean(),
            "kl": kl,
            "lacr": lacr,
        }
