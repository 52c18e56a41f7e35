"""A narrower restoring network initialised from a shipped one: its tensors, with the reflectance denoiser cut to
``--denoiser-width`` by keeping the teacher's strongest channels, and/or the pointwise tone head replaced by a
``--tone-width`` one fitted to the teacher head's function (lowface.train.narrowing) - the ``init_from`` of a
distillation run (configs/students/).

    python tools/narrow_student.py lowface-restore-real runs/students/w16-init.safetensors --denoiser-width 16
    python tools/narrow_student.py lowface-restore-real runs/students/tone8-init.safetensors --tone-width 8
    python tools/narrow_student.py lowface-restore-real runs/students/w16-32-48-init.safetensors \
        --denoiser-width 16,32,48      # one width a level
    python tools/narrow_student.py lowface-restore-real:runs/teachers/restore-real-v3.10.safetensors \
        runs/students/head16-init.safetensors --denoiser-width 32,48,64,16   # v3.10, its last decoder step 16 wide

The tone head is fitted on the inputs it meets on training data only: every third under-exposed frame of SICE's
train scenes and every second photo of CelebA's train people darkened by ``real-mix`` (1 pixel in 24 of each).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import safetensors.torch
import torch

from lowface.data.celeba import celeba_split
from lowface.data.sice import sice_pairs
from lowface.data.synth import synthesize_float32
from lowface.inference.catalogue import constructor_arguments, create_model, model_card, split_model_spec
from lowface.io import atomic_write_bytes, image_to_tensor, read_image
from lowface.models.restore_net import RestoreNet, level_widths
from lowface.registry import MODELS
from lowface.train.narrowing import fitted_tone, narrowed_denoiser


def tone_inputs(network: RestoreNet, images: list, share: int = 24, seed: int = 0) -> torch.Tensor:
    """(N, 4) rows of what ``network``'s tone head sees (reflectance, normalised log-gain) on ``images`` ((H, W, 3)
    float arrays), one pixel in ``share`` of each: the training graph runs, where the head is called as a module."""
    generator = torch.Generator().manual_seed(seed)
    rows: list[torch.Tensor] = []

    def sample(module, args, output) -> None:
        pixels = torch.cat(args[:2], 1).detach().permute(1, 0, 2, 3).flatten(1)  # (4, B H W)
        rows.append(pixels[:, torch.randperm(pixels.shape[1], generator=generator)[: pixels.shape[1] // share]].T)

    hook = network.tone.register_forward_hook(sample)
    try:
        with torch.enable_grad():  # not plain inference: the reference graph, tone head as a module
            for image in images:
                network(image_to_tensor(image))
    finally:
        hook.remove()
    return torch.cat(rows)


def _widths(text: str | None) -> int | list[int] | None:
    """ "16" -> 16, "16,32,48" -> [16, 32, 48], "32,48,64,16" -> [32, 48, 64, 16] (checked by level_widths), None ->
    None."""
    if text is None:
        return None
    try:
        parts = [int(part) for part in text.split(",")]
        widths = parts[0] if len(parts) == 1 else parts
        level_widths(widths)
    except ValueError as error:
        raise click.BadParameter(f"{text!r}: one positive width, three or four, comma-separated ({error})") from None
    return widths


@click.command()
@click.argument("spec")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--denoiser-width", default=None, callback=lambda _c, _p, v: _widths(v),
              help="The student denoiser's width, its three levels' (e.g. 16,32,48), or those and its last decoder "
              "step's (e.g. 32,48,64,16).")  # fmt: skip
@click.option(
    "--denoiser-from",
    default=None,
    help="Take the denoiser (tensors, width and folding) from this restore_net (name or name:file).",
)
@click.option("--tone-width", type=click.IntRange(min=1), default=None, help="The student tone head's width.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=Path("../shared/data"),
              show_default=True, help="Where SICE and CelebA are (for --tone-width).")  # fmt: skip
@click.option("--steps", type=click.IntRange(min=1), default=15000, show_default=True, help="The tone fit's steps.")
def main(spec: str, out: Path, denoiser_width: int | list[int] | None, denoiser_from: str | None,
         tone_width: int | None, data_root: Path, steps: int) -> None:  # fmt: skip
    """Write SPEC's tensors to OUT with its denoiser narrowed to --denoiser-width (or replaced by --denoiser-from's)
    and/or its tone head fitted at --tone-width. SPEC: a shipped restore_net's name, or name:file.safetensors for
    another version of it."""
    try:
        name, weights = split_model_spec(spec)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    card = model_card(name)
    if card.architecture != "restore_net":
        raise click.ClickException(f"{name} is a {card.architecture}; only a restore_net has a denoiser to narrow")
    if denoiser_width is None and denoiser_from is None and tone_width is None:
        raise click.UsageError("give --denoiser-width or --denoiser-from, and/or --tone-width")
    if denoiser_width is not None and denoiser_from is not None:
        raise click.UsageError("--denoiser-width narrows SPEC's own denoiser; --denoiser-from another's: not both")
    teacher = create_model(name, weights)
    kwargs = constructor_arguments(name, weights)
    tensors = teacher.state_dict()
    if denoiser_width is not None:
        kwargs["denoiser_width"] = denoiser_width
        tensors = {key: value for key, value in tensors.items() if not key.startswith("denoiser.")}
        tensors |= {f"denoiser.{key}": value for key, value in narrowed_denoiser(teacher.denoiser, denoiser_width)
                    .state_dict().items()}  # fmt: skip
    if denoiser_from is not None:
        try:
            donor_name, donor_weights = split_model_spec(denoiser_from)
        except FileNotFoundError as error:
            raise click.ClickException(str(error)) from None
        if model_card(donor_name).architecture != "restore_net":
            raise click.ClickException(f"{donor_name} is not a restore_net: it has no denoiser to give")
        donor = create_model(donor_name, donor_weights)
        if donor.denoiser is None:
            raise click.ClickException(f"{donor_name} has no denoiser (denoiser_width 0)")
        kwargs |= {
            "denoiser_width": list(donor.denoiser.widths),
            "unshuffle": donor.denoiser.unshuffle,
            "denoiser_int8_aware": donor.denoiser.quantisers is not None,
        }  # (its ranges, if any, are its own)
        tensors = {key: value for key, value in tensors.items() if not key.startswith("denoiser.")}
        tensors |= {f"denoiser.{key}": value for key, value in donor.denoiser.state_dict().items()}
    if tone_width is not None:
        if teacher.tone is None:
            raise click.ClickException(f"{name} has no tone head")
        frames = [read_image(dark).rgb for dark, _ in sice_pairs(data_root, "train")[::3]]
        faces = synthesize_float32([read_image(p).rgb for p in celeba_split(data_root, "train")[::2]], "real-mix")
        tone = fitted_tone(teacher.tone, tone_width, tone_inputs(teacher, frames + faces), steps)
        kwargs["tone_width"] = tone_width
        tensors = {key: value for key, value in tensors.items() if not key.startswith("tone.")}
        tensors |= {f"tone.{key}": value for key, value in tone.state_dict().items()}
    MODELS.create(card.architecture, **kwargs).load_state_dict(tensors)  # every tensor of the student, none left over
    out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"model": json.dumps({"type": card.architecture, **kwargs})}
    atomic_write_bytes(out, safetensors.torch.save({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata))
    click.echo(f"wrote {out}: {name} as {json.dumps(kwargs)}")


if __name__ == "__main__":
    main()
