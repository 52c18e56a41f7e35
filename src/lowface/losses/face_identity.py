"""Face-recognition module (paper Eq. 10): identity cross-entropy through a frozen recognizer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.face.align import warp
from lowface.face.database import FaceDatabase


class FaceIdentityLoss(nn.Module):
    """Cross-entropy of ``scale`` x cosine similarities between the enhanced faces' embeddings and the face
    database of training identities, with the true identity as the target.

    recognizer: a frozen ``nn.Module`` mapping (B, 3, chip, chip) RGB in [0, 1] to (B, D) embeddings.
    Call with enhanced (B, 3, H, W), chip_transforms (B, 2, 3) chip-to-image pixel transforms (from the clean
    image in synthetic pairs), identities (B,) database indices and valid (B,) bool (a face was found).
    Images without a valid face contribute 0 to the per-image mean; with none, the loss is a zero that keeps
    the graph.
    """

    def __init__(self, recognizer: nn.Module, database: FaceDatabase, chip_size: int, scale: float = 1.0):
        super().__init__()
        self.recognizer = recognizer.eval().requires_grad_(False)
        self.database, self.chip_size, self.scale = database, chip_size, scale

    def forward(self, enhanced: Tensor, chip_transforms: Tensor, identities: Tensor, valid: Tensor) -> Tensor:
        valid = valid.bool()
        if not bool(valid.any()):
            return enhanced.sum() * 0.0
        chips = warp(enhanced[valid], chip_transforms[valid], self.chip_size)
        embeddings = F.normalize(self.recognizer(chips), dim=1)
        logits = self.database.logits(embeddings, self.scale)
        losses = F.cross_entropy(logits, identities[valid].long().to(logits.device), reduction="none")
        return losses.sum() / enhanced.shape[0]  # a per-image mean with missed faces counting 0

    @torch.no_grad()
    def accuracy(self, enhanced: Tensor, chip_transforms: Tensor, identities: Tensor, valid: Tensor) -> float:
        """Fraction of valid faces identified correctly (a training diagnostic)."""
        valid = valid.bool()
        if not bool(valid.any()):
            return float("nan")
        chips = warp(enhanced[valid], chip_transforms[valid], self.chip_size)
        predicted = self.database.logits(self.recognizer(chips)).argmax(dim=1).cpu()
        return float((predicted == identities[valid].cpu()).float().mean())
