"""``lowface synth``: darken clean images with a named low-light preset."""

from __future__ import annotations

import json
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


def run_synth(inputs: list[Path], output: Path, preset: str, seed: int = 0) -> int:
    """Darken every image under ``inputs`` into ``output`` (PNG, 8-bit, alpha kept) and write
    ``output/synth.json`` with the preset, seed and each image's drawn parameters. Returns the image count.

    The whole set is darkened together (Algorithm 1's brightness target is a property of the set); the
    same inputs, preset and seed always give the same files.
    """
    from tqdm import tqdm

    from lowface.data.synth import SYNTHESIS_PRESETS, synthesize
    from lowface.inference.jobs import plan_jobs
    from lowface.io import IMAGE_SUFFIXES, atomic_write_bytes, read_image, write_image

    jobs = [j for j in plan_jobs(inputs, output, out_format="png") if j.source.suffix.lower() in IMAGE_SUFFIXES]
    if not jobs:
        raise ValueError(f"no images found in {', '.join(map(str, inputs))}")
    images = [read_image(job.source) for job in tqdm(jobs, desc="reading", unit="img")]
    dark, params = synthesize([image.rgb for image in images], preset, seed)
    for job, image, pixels in tqdm(zip(jobs, images, dark, strict=True), total=len(jobs), desc=preset, unit="img"):
        write_image(job.target, image.with_rgb(pixels))
    record = {
        "preset": preset,
        "description": SYNTHESIS_PRESETS[preset].description,
        "seed": seed,
        "images": {str(j.target.relative_to(output)): p for j, p in zip(jobs, params, strict=True)},
    }
    atomic_write_bytes(output / "synth.json", json.dumps(record, indent=1).encode())
    return len(jobs)
