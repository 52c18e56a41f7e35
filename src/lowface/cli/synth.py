"""``lowface synth``: darken clean images with a named low-light preset."""

from __future__ import annotations

from pathlib import Path

import click

from lowface.cli.common import user_errors


@click.command()
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("-p", "--preset", default="linear", show_default=True, help="Synthesis preset (see --list).")
@click.option("--seed", default=0, show_default=True, help="The same preset and seed give the same images.")
@click.option("--list", "list_presets", is_flag=True, help="List the presets and exit.")
def synth(inputs: tuple[Path, ...], output: Path, preset: str, seed: int, list_presets: bool) -> None:
    """Darken clean images (files or folders, recursively) into OUTPUT with a named low-light preset.

    Writes PNGs keeping the folder tree and a synth.json with each image's drawn parameters.
    """
    from lowface.data.synth import SYNTHESIS_PRESETS
    from lowface.data.synth_files import run_synth

    if list_presets:
        for entry in SYNTHESIS_PRESETS.values():
            click.echo(f"{entry.name:20s} {entry.description}")
        return
    if not inputs or output is None:
        raise click.UsageError("give INPUTS and -o OUTPUT (or --list to see the presets)")
    if preset not in SYNTHESIS_PRESETS:
        raise click.ClickException(f"unknown preset {preset!r}; available: {', '.join(SYNTHESIS_PRESETS)}")
    with user_errors():
        count = run_synth(list(inputs), output, preset, seed)
    click.echo(f"{count} images darkened with {preset!r} (seed {seed}) -> {output}")
