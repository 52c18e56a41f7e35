"""Image-quality and face metrics. Importing this package registers every metric in ``lowface.registry.METRICS``
(see :mod:`.catalogue`): each carries whether higher is better, its label and its format."""

from lowface.metrics import brisque, color, deep, face, fidelity, lightness, lpips, niqe  # noqa: F401 (registers)
from lowface.metrics.catalogue import Metric, create_metric

__all__ = ["Metric", "create_metric"]
