"""Deployment exports: ONNX and TorchScript graphs that map an RGB image in [0, 1] to the enhanced image."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from lowface.inference.routing import RoutedModel
from lowface.models.base import as_enhancement_model


def _check_exportable(model: nn.Module) -> None:
    if isinstance(model, RoutedModel):
        raise ValueError(
            f"a routed model chooses its network per image, which a traced graph cannot; export "
            f"{model.names[0]} and {model.names[1]} and route with lowface.inference.routing.shipped_router() "
            "(its card's router file)"
        )


class ImageOnly(nn.Module):
    """Wraps an enhancer so that the graph has one input (1, 3, H, W) and one output, the enhanced image."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = as_enhancement_model(model)

    def forward(self, x: Tensor) -> Tensor:
        return self.model.enhance(x)


def export_onnx(model: nn.Module, path: str | Path, height: int = 256, width: int = 256, opset: int = 17) -> Path:
    """Export to ONNX with dynamic height/width (the sample size only fixes the tracing example)."""
    _check_exportable(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sample = torch.rand(1, 3, height, width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            ImageOnly(model).eval(),
            (sample,),
            str(path),
            input_names=["image"],
            output_names=["enhanced"],
            dynamic_axes={
                "image": {0: "batch", 2: "height", 3: "width"},
                "enhanced": {0: "batch", 2: "height", 3: "width"},
            },
            opset_version=opset,
            dynamo=False,
        )
    return path


def export_torchscript(model: nn.Module, path: str | Path, height: int = 256, width: int = 256) -> Path:
    """Export a traced TorchScript module (load with ``torch.jit.load``)."""
    _check_exportable(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(ImageOnly(model).eval(), torch.rand(1, 3, height, width))
    traced.save(str(path))
    return path
