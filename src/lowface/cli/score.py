"""``lowface score``: a folder of images scored with the benchmark's metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lowface.cli.common import names, user_errors


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-r",
    "--references",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Reference images (same relative paths, any image suffix): PSNR, SSIM, CIEDE2000 and faces found / invented.",
)
@click.option(
    "--originals",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The images before enhancement (same relative paths): LOE.",
)
@click.option(
    "--detectors",
    default="mtcnn,hog,blazeface",
    show_default=True,
    help="Face detectors to count faces with (comma-separated; empty: none).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every file's scores and the summary: .csv (one row per file, then the mean row) or .json.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def score(folder, references, originals, detectors, output, quiet) -> None:
    """Score a folder of images with the benchmark's metrics: NIQE, BRISQUE, LOE (with --originals), PSNR / SSIM /
    CIEDE2000 raw and brightness-matched (with --references), faces per detector. Prints the summary."""
    import csv
    import io

    from lowface.bench.score import direction_hint, format_value, score_folder
    from lowface.io import atomic_write_bytes

    if output is not None and output.suffix.lower() not in (".csv", ".json"):
        raise click.BadParameter(f"{output}: give a .csv or .json file", param_hint="--output")
    with user_errors():
        rows, summary, problems = score_folder(folder, references, originals, names(detectors), not quiet)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    width = max(map(len, summary), default=10)
    for key, value in summary.items():
        click.echo(f"{key:{width}s}  {format_value(value)}{direction_hint(key)}")
    if output is not None:
        if output.suffix.lower() == ".json":
            record = {"folder": str(folder), "summary": summary, "files": rows, "problems": problems}
            payload = json.dumps(record, indent=1)
        else:
            buffer = io.StringIO()
            columns = ["file", *[k for k in (rows[0] if rows else {}) if k != "file"]]
            writer = csv.writer(buffer)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([format_value(row.get(c)) for c in columns])
            writer.writerow(["mean / total", *[format_value(summary.get(c)) for c in columns[1:]]])
            payload = buffer.getvalue()
        atomic_write_bytes(output, payload.encode())
        click.echo(f"per-file scores in {output}", err=True)
    sys.exit(1 if problems else 0)
