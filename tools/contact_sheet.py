"""A contact sheet for looking at what a model does on real photos: one row per photo, the input then each method.

    python tools/contact_sheet.py -o runs/sheet.png --methods lowface-auto,lime ../shared/data/lowlight_real/LIME/*.bmp
    python tools/contact_sheet.py -o runs/sice.png --sice val --methods lowface-auto,x=lowface-fast:runs/x/m.safetensors
    python tools/contact_sheet.py -o runs/real.png --gate --per-sheet 6 ../shared/data/lowlight_real  # every photo

Methods as in ``lowface bench`` (a name, or label=name:weights; name@float32 fixes the precision); ``--gate`` runs
them as ``lowface enhance`` does (with the exposure gate). A folder stands for the images in it (recursively,
sorted, hidden ones left out); ``--per-sheet N`` writes ``N`` rows a sheet (``real-01.png``, ``real-02.png``, ...),
small enough to look at. With ``--sice SPLIT`` the rows are SICE frames of that split (every ``--every``-th
under-exposed frame) and the scene's reference closes each row. The sheet is for looking, not for publishing: the
datasets under ../shared/data are for research use only, so write it under runs/ (ignored by git).
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch
from PIL import Image, ImageDraw

from lowface.bench.methods import MethodSpec, split_precision
from lowface.bench.score import image_files
from lowface.data.sice import sice_pairs
from lowface.inference.enhancer import Enhancer
from lowface.io import read_image


def cell(image: np.ndarray, width: int) -> np.ndarray:
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    pixels = Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
    return np.asarray(pixels.resize((width, height), Image.LANCZOS))


def expand(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given, folders as the image files under them (:func:`lowface.bench.score.image_files`)."""
    return [found for path in paths for found in (image_files(path) if path.is_dir() else [path])]


def sheet_paths(output: Path, count: int) -> list[Path]:
    """``output`` itself for one sheet, else ``output`` with -01, -02, ... before its suffix."""
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{index + 1:02d}{output.suffix}") for index in range(count)]


@click.command()
@click.argument("photos", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--methods", default="lowface-auto", show_default=True, help="Comma-separated method specs.")
@click.option("--sice", "sice_split", type=click.Choice(["train", "val", "test"]), help="Rows from this SICE split.")
@click.option("--every", default=4, show_default=True, help="With --sice: every N-th under-exposed frame.")
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--width", default=320, show_default=True, help="Width of each cell in pixels.")
@click.option("--gate/--no-gate", default=False, show_default=True, help="Apply the exposure gate, as enhance does.")
@click.option("--per-sheet", default=0, show_default=True, help="Rows a sheet (0: all in one).")
@click.option("--threads", default=2, show_default=True)
def main(photos, output, methods, sice_split, every, data_root, width, gate, per_sheet, threads) -> None:
    torch.set_num_threads(threads)
    specs = [MethodSpec.parse(m.strip()) for m in methods.split(",") if m.strip()]
    try:
        enhancers = [
            Enhancer.from_pretrained(name, device="cpu", weights=s.weights, gate=gate, precision=precision)
            for s in specs
            for name, precision in [split_precision(s.name)]
        ]
    except KeyError as error:  # an unknown model name: one line, with the names there are
        raise click.BadParameter(str(error.args[0]), param_hint="--methods") from None
    rows_in: list[tuple[Path, Path | None]] = [(p, None) for p in expand(photos)]
    if sice_split:
        rows_in += sice_pairs(data_root, sice_split)[::every]
    if not rows_in:
        raise click.UsageError("give photos or --sice SPLIT")
    labels = ["input", *(s.label for s in specs)] + (["reference"] if sice_split else [])
    rows = []
    for path, reference in rows_in:
        image = read_image(path).rgb
        cells = [cell(image, width)] + [cell(e.enhance(image), width) for e in enhancers]
        if sice_split:
            cells.append(cell(read_image(reference).rgb, width) if reference else np.zeros_like(cells[0]))
        rows.append(np.concatenate(cells, 1))
        click.echo(path)
    size = per_sheet or len(rows)
    groups = [rows[start : start + size] for start in range(0, len(rows), size)]
    output.parent.mkdir(parents=True, exist_ok=True)
    for path, group in zip(sheet_paths(output, len(groups)), groups, strict=True):
        sheet = Image.fromarray(np.concatenate(group, 0))
        draw = ImageDraw.Draw(sheet)
        for index, label in enumerate(labels):
            draw.text((index * width + 4, 4), label, fill=(255, 64, 64))
        sheet.save(path)
        click.echo(f"wrote {path} ({len(group)} rows x {len(labels)} columns)")


if __name__ == "__main__":
    main()
