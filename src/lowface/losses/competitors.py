"""The training objectives of the competitor systems, by the name a training config gives (``objective:``)."""

from __future__ import annotations

from lowface.losses.retinexnet import DECOM_WEIGHTS, RELIGHT_WEIGHTS, RetinexDecomObjective, RetinexRelightObjective
from lowface.losses.zero_reference import (
    SCI_WEIGHTS,
    ZERO_DCE_PP_WEIGHTS,
    ZERO_DCE_WEIGHTS,
    SCIObjective,
    ZeroDCEObjective,
)

# name: (objective factory taking the weights, default weights)
COMPETITOR_OBJECTIVES = {
    "zero_dce": (lambda weights: ZeroDCEObjective(weights, ZERO_DCE_WEIGHTS), ZERO_DCE_WEIGHTS),
    "zero_dce_pp": (lambda weights: ZeroDCEObjective(weights, ZERO_DCE_PP_WEIGHTS), ZERO_DCE_PP_WEIGHTS),
    "sci": (SCIObjective, SCI_WEIGHTS),
    "retinexnet_decom": (RetinexDecomObjective, DECOM_WEIGHTS),
    "retinexnet_relight": (RetinexRelightObjective, RELIGHT_WEIGHTS),
}
