"""Where the no-reference scores (NIQE, BRISQUE) of the real low-light photos come from, and whether they agree with
real references: per photo set of ``lowlight_real/`` (DICM, LIME, LOL, ...), and on SICE's under-exposed frames of
one split beside the same scores of the scenes' well-exposed reference frames.

    python benchmarks/no_reference_sets.py --split val --threads 1 \
        --out benchmarks/results/no_reference/sets.json none gamma sci lowface-auto

Each method's output is rounded to 8 bits (as saved) and scored as ``lowface bench`` scores the real photos
(lowface.bench.rows.no_reference: NIQE on images with a shorter side of 192 pixels or more, BRISQUE on all; lower is
better). ``none`` is the untouched input. The SICE split is for checking the metrics, not for choosing: give ``val``
(the test scenes are the benchmark's).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch

from lowface.bench.methods import MethodSpec, pretrained
from lowface.bench.real_pairs import RealPairsSet
from lowface.bench.report import provenance
from lowface.bench.rows import no_reference
from lowface.data.lowlight import LOWLIGHT_DIR, real_lowlight_photos
from lowface.io import read_image, to_uint8


def enhanced(method: str, images: list[np.ndarray]) -> list[np.ndarray]:
    """8-bit outputs of a method spec ("none": the inputs themselves)."""
    spec = MethodSpec.parse(method)
    if spec.name == "none":
        return [to_uint8(image) for image in images]
    enhancer = pretrained(spec.name, spec.weights)
    return [to_uint8(enhancer.enhance(image)) for image in images]


def scores(images: list[np.ndarray]) -> dict[str, float | None]:
    row = no_reference(images, None)
    return {"niqe": row["niqe"], "brisque": row["brisque"], "count": len(images)}


@click.command()
@click.argument("methods", nargs=-1, required=True)
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--split", type=click.Choice(["train", "val"]), default="val", show_default=True)
@click.option("--threads", default=1, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(methods, data_root, split, threads, out) -> None:
    torch.set_num_threads(threads)
    paths = real_lowlight_photos(data_root)
    photos = [read_image(p).rgb for p in paths]
    sets = [p.relative_to(data_root / LOWLIGHT_DIR).parts[0] for p in paths]
    pairs = RealPairsSet.load(data_root, split)
    rows: dict[str, dict] = {"reference frames": {f"sice {split}": scores(list(pairs.references))}}
    for method in methods:
        outputs = enhanced(method, photos)
        row = rows[method] = {"all photos": scores(outputs)}
        for name in sorted(set(sets)):
            row[name] = scores([o for o, s in zip(outputs, sets, strict=True) if s == name])
        row["all but LOL"] = scores([o for o, s in zip(outputs, sets, strict=True) if not s.startswith("LOL")])
        row[f"sice {split}"] = scores(enhanced(method, list(pairs.dark)))
        click.echo(method + "  " + "  ".join(f"{k}: {v['niqe']:.2f} / {v['brisque']:.1f}" for k, v in row.items()))
    made = provenance(threads)
    out.write_text(json.dumps({**made, "split": split, "rows": rows}, indent=1) + "\n")
    columns = list(rows[methods[0]])
    lines = [
        f"NIQE / BRISQUE (lower is better), 8-bit outputs. Command: `python benchmarks/no_reference_sets.py --split "
        f"{split} --threads {threads} --out {out} {' '.join(methods)}`, {made['date']}, {made['machine']}.",
        "",
        "| method | " + " | ".join(f"{c} ({rows[methods[0]][c]['count']})" for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for label, row in rows.items():
        cells = [f"{row[c]['niqe']:.2f} / {row[c]['brisque']:.1f}" if c in row else "" for c in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
