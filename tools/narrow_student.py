"""A narrower restoring network initialised from a shipped one: its tensors, with the reflectance denoiser cut to
``--denoiser-width`` by keeping the teacher's strongest channels (lowface.train.narrowing) - the ``init_from`` of a
distillation run (configs/students/).

    python tools/narrow_student.py lowface-restore-real runs/students/w16-init.safetensors --denoiser-width 16
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import safetensors.torch

from lowface.inference.catalogue import create_model, model_card
from lowface.io import atomic_write_bytes
from lowface.registry import MODELS
from lowface.train.narrowing import narrowed_denoiser


@click.command()
@click.argument("name")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--denoiser-width", type=click.IntRange(min=1), required=True, help="The student denoiser's width.")
def main(name: str, out: Path, denoiser_width: int) -> None:
    """Write NAME's tensors to OUT with its denoiser narrowed to --denoiser-width."""
    card = model_card(name)
    if card.architecture != "restore_net":
        raise click.ClickException(f"{name} is a {card.architecture}; only a restore_net has a denoiser to narrow")
    teacher = create_model(name)
    kwargs = {**card.kwargs, "denoiser_width": denoiser_width}
    student = MODELS.create(card.architecture, **kwargs)
    tensors = {key: value for key, value in teacher.state_dict().items() if not key.startswith("denoiser.")}
    tensors |= {f"denoiser.{key}": value for key, value in narrowed_denoiser(teacher.denoiser, denoiser_width)
                .state_dict().items()}  # fmt: skip
    student.load_state_dict(tensors)  # every tensor of the student, none left over
    out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"model": json.dumps({"type": card.architecture, **kwargs})}
    atomic_write_bytes(out, safetensors.torch.save({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata))
    click.echo(f"wrote {out}: {name} with its denoiser narrowed to width {denoiser_width}")


if __name__ == "__main__":
    main()
