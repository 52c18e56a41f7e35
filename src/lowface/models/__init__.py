"""Enhancement architectures. Importing this package registers them all in ``lowface.registry.MODELS``."""

from lowface.models.classical import CLAHE, LIME, GammaCorrection, HistogramEqualization, Identity
from lowface.models.enhance_net import EnhanceNet, FastEnhanceNet, Retinex
from lowface.models.lacr_vae import LACRVAE
from lowface.models.restore_net import RestoreNet
from lowface.models.retinexnet import RetinexNet
from lowface.models.sci import SCI
from lowface.models.zero_dce import ZeroDCE, ZeroDCEPlusPlus

__all__ = [
    "CLAHE",
    "LACRVAE",
    "LIME",
    "SCI",
    "EnhanceNet",
    "FastEnhanceNet",
    "GammaCorrection",
    "HistogramEqualization",
    "Identity",
    "RestoreNet",
    "Retinex",
    "RetinexNet",
    "ZeroDCE",
    "ZeroDCEPlusPlus",
]
