"""A face database of identity embeddings: cosine-similarity logits, identification and verification."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


class FaceDatabase:
    """Gallery of one embedding per identity (the normalised mean of that identity's normalised embeddings).

    ``logits`` is differentiable with respect to the query embeddings, so a recognition loss (paper Eq. 10)
    can flow back through a frozen recognizer into an enhancer.
    """

    def __init__(self, embeddings: Tensor, names: Sequence[str]):
        if embeddings.ndim != 2 or len(names) != embeddings.shape[0]:
            raise ValueError(f"need (N, D) embeddings and N names, got {tuple(embeddings.shape)} and {len(names)}")
        if len(set(names)) != len(names):
            raise ValueError("identity names must be unique")
        self.embeddings = F.normalize(embeddings.detach().float(), dim=1)
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def from_samples(cls, embeddings: Tensor, labels: Sequence[str]) -> FaceDatabase:
        """Build from several embeddings per identity: (M, D) and M labels."""
        names = sorted(set(labels))
        normalised = F.normalize(embeddings.detach().float(), dim=1)
        label_index = torch.tensor([names.index(label) for label in labels])
        sums = torch.zeros(len(names), normalised.shape[1]).index_add_(0, label_index, normalised)
        return cls(sums, names)

    def __len__(self) -> int:
        return len(self.names)

    def to(self, device: torch.device | str) -> FaceDatabase:
        self.embeddings = self.embeddings.to(device)
        return self

    def logits(self, queries: Tensor, scale: float = 1.0) -> Tensor:
        """(B, D) embeddings -> (B, N) scaled cosine similarities to every identity."""
        return scale * F.normalize(queries, dim=1) @ self.embeddings.to(queries).T

    def labels(self, names: Sequence[str]) -> Tensor:
        """Identity names -> (B,) class indices for a cross-entropy over ``logits``."""
        try:
            return torch.tensor([self.index[name] for name in names])
        except KeyError as exc:
            raise KeyError(f"identity {exc.args[0]!r} is not in the face database") from None

    def identify(self, queries: Tensor) -> list[tuple[str, float]]:
        """(B, D) -> the best-matching identity and its cosine similarity, per query."""
        best = self.logits(queries.detach()).max(dim=1)
        return [(self.names[i], float(s)) for i, s in zip(best.indices.tolist(), best.values.tolist(), strict=True)]


def cosine_similarity(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise cosine similarity of (B, D) and (B, D) -> (B,)."""
    return F.cosine_similarity(a, b, dim=1)
