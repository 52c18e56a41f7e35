"""A shipped network's tensors with other constructor arguments recorded, so that a benchmark runs the variant as
``label=name:path`` (weights files carry the arguments they run with; see
lowface.inference.catalogue.weights_architecture). For choosing a setting that needs no training - a clip, a pivot,
a high-pass - on validation data before it goes into weights/manifest.json.

    python tools/weights_variant.py lowface-restore-real runs/x/eps0.01.safetensors detail_guide_eps=0.01
    python benchmarks/real_pairs_select.py --split val eps0.01=lowface-restore-real:runs/x/eps0.01.safetensors
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import safetensors.torch

from lowface.inference.catalogue import create_model, model_card, shipped_weights_path
from lowface.io import atomic_write_bytes


def parse_setting(setting: str) -> tuple[str, object]:
    """``key=value`` with a JSON value (``0.01``, ``true``, ``null``, ``"log"``) -> (key, value)."""
    key, sep, value = setting.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{setting!r}: expected key=value, e.g. detail_guide_eps=0.01")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        raise click.BadParameter(f'{setting!r}: the value must be JSON (0.01, true, null, "log")') from None


@click.command()
@click.argument("name")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("settings", nargs=-1)
def main(name: str, out: Path, settings: tuple[str, ...]) -> None:
    """Write NAME's shipped tensors to OUT with its manifest arguments updated by SETTINGS (key=value)."""
    card = model_card(name)
    if card.file is None:
        raise click.ClickException(f"{name} has no weights file of its own")
    kwargs = {"type": card.architecture, **card.kwargs, **dict(map(parse_setting, settings))}
    source = shipped_weights_path(card)
    tensors = safetensors.torch.load_file(str(source))
    with safetensors.safe_open(str(source), "pt") as shipped:  # the rest of its record (step, training time) kept
        metadata = {**(shipped.metadata() or {}), "model": json.dumps(kwargs)}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, safetensors.torch.save(tensors, metadata=metadata))
    try:
        create_model(name, out)  # the arguments must build the network and its tensors must load into it
    except (TypeError, ValueError, RuntimeError) as error:
        out.unlink()
        raise click.ClickException(f"{name} with {' '.join(settings)}: {error}") from None
    click.echo(f"wrote {out}: {json.dumps(kwargs)}")


if __name__ == "__main__":
    main()
