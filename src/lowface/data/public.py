"""A public-domain face, shown wherever dataset images may not be redistributed (reports, docs, tests)."""

from __future__ import annotations

import numpy as np


def public_face() -> np.ndarray:
    """(320, 320, 3) float32 RGB in [0, 1]: head and shoulders of scikit-image's astronaut (NASA, public
    domain), the face shown wherever dataset images may not be redistributed."""
    from skimage import data as skdata

    return skdata.astronaut()[:320, 96:416].astype(np.float32) / 255.0
