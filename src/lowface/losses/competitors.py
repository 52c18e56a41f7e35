"""The training objectives of the competitor systems, by the name a training config gives (``objective:``)."""

from __future__ import annotations

from lowface.losses.lacr import LACR_VAE_WEIGHTS, LACRVAEObjective
from lowface.losses.retinexnet import DECOM_WEIGHTS, RELIGHT_WEIGHTS, RetinexDecomObjective, RetinexRelightObjective
from lowface.losses.zero_reference import (
    SCI_WEIGHTS,
    ZERO_DCE_PP_WEIGHTS,
    ZERO_DCE_WEIGHTS,
    SCIObjective,
    ZeroDCEObjective,
)

# name: (objective factory taking the weights and the model being trained, default weights)
COMPETITOR_OBJECTIVES = {
    "zero_dce": (lambda weights, _: ZeroDCEObjective(weights, ZERO_DCE_WEIGHTS), ZERO_DCE_WEIGHTS),
    "zero_dce_pp": (lambda weights, _: ZeroDCEObjective(weights, ZERO_DCE_PP_WEIGHTS), ZERO_DCE_PP_WEIGHTS),
    "sci": (lambda weights, _: SCIObjective(weights), SCI_WEIGHTS),
    "retinexnet_decom": (lambda weights, _: RetinexDecomObjective(weights), DECOM_WEIGHTS),
    "retinexnet_relight": (lambda weights, _: RetinexRelightObjective(weights), RELIGHT_WEIGHTS),
    "lacr_vae": (lambda weights, model: LACRVAEObjective(weights, model.latent), LACR_VAE_WEIGHTS),
}
