"""The training objectives of the competitor systems, registered by the name a training config gives
(``objective:``)."""

from __future__ import annotations

from lowface.losses.lacr import LACR_VAE_WEIGHTS, LACRVAEObjective
from lowface.losses.retinexnet import DECOM_WEIGHTS, RELIGHT_WEIGHTS, RetinexDecomObjective, RetinexRelightObjective
from lowface.losses.weighted import register_objective
from lowface.losses.zero_reference import (
    SCI_WEIGHTS,
    ZERO_DCE_PP_WEIGHTS,
    ZERO_DCE_WEIGHTS,
    SCIObjective,
    ZeroDCEObjective,
)

register_objective("zero_dce", ZERO_DCE_WEIGHTS)(lambda weights, _: ZeroDCEObjective(weights, ZERO_DCE_WEIGHTS))
register_objective("zero_dce_pp", ZERO_DCE_PP_WEIGHTS)(
    lambda weights, _: ZeroDCEObjective(weights, ZERO_DCE_PP_WEIGHTS)
)
register_objective("sci", SCI_WEIGHTS)(lambda weights, _: SCIObjective(weights))
register_objective("retinexnet_decom", DECOM_WEIGHTS)(lambda weights, _: RetinexDecomObjective(weights))
register_objective("retinexnet_relight", RELIGHT_WEIGHTS)(lambda weights, _: RetinexRelightObjective(weights))
register_objective("lacr_vae", LACR_VAE_WEIGHTS)(lambda weights, parts: LACRVAEObjective(weights, parts.model.latent))
