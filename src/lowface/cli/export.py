"""``lowface export``: ONNX or TorchScript for deployment."""

from __future__ import annotations

from pathlib import Path

import click

from lowface.cli.common import user_errors


@click.command()
@click.argument("model")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file: .onnx for ONNX, .pt/.ts for TorchScript.",
)
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--height", default=256, show_default=True, help="Height of the tracing example.")
@click.option("--width", default=256, show_default=True, help="Width of the tracing example.")
@click.option(
    "--denoise",
    type=click.FloatRange(0, 1),
    default=None,
    help="Restoring networks: the share of the estimated noise removed, built into the export (default: the model's).",
)
def export(model: str, output: Path, weights: Path | None, height: int, width: int, denoise: float | None) -> None:
    """Export MODEL to ONNX (dynamic size) or TorchScript for deployment."""
    from lowface.inference.catalogue import create_model
    from lowface.inference.export import export_onnx, export_torchscript
    from lowface.models.classical import NumpyImageOperator
    from lowface.models.restore_net import set_denoise_strength

    with user_errors():
        net = create_model(model, weights)
        if denoise is not None:
            set_denoise_strength(net, denoise, model)
    if isinstance(net, NumpyImageOperator):
        raise click.ClickException(f"{model} is a NumPy/OpenCV method, not a network, and cannot be exported")
    if output.suffix not in (".onnx", ".pt", ".ts"):
        raise click.ClickException(f"{output}: use a .onnx or .pt/.ts file name")
    with user_errors():
        (export_onnx if output.suffix == ".onnx" else export_torchscript)(net, output, height, width)
    click.echo(f"exported {model} to {output}")
