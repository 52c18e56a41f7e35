"""A dark (or bright) frame round the picture (issue 20): how much darker each method leaves the outermost pixels of a
photo than the pixels just inside them, against the same comparison on its input.

    python benchmarks/border_frame.py --photos real lowface-restore-real mine=lowface-restore-real:runs/x/m.safetensors
    python benchmarks/border_frame.py --photos val --out benchmarks/results/mirror_edges/border_val.json gamma ...

Per photo and side (top, bottom, left, right): the mean luma of the outer ``--edge`` pixels over the mean luma of the
band ``--inner`` pixels in, for the output, divided by the same ratio of the input - 1 when the border is brightened
like its surroundings, 0.8 when it comes out 20 % darker than they do. A convolution padded with zeros sees a black
frame round every image; the restoring U-Net brightened against it and darkened the outer 10 px of night skies
(DICM 27: 0.70-0.79 on three sides). Per method: the share of sides under 0.9, the 5th percentile, and the photos with
a side under 0.85 (some are content: a near-black band at an edge makes the ratio unstable). ``--photos``: ``real``
(the no-reference photos of lowlight_real) or a SICE split's under-exposed frames (choose on ``val``).
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch
from common import provenance, write_results

from lowface.bench.methods import MethodSpec, pretrained
from lowface.bench.real_pairs import RealPairsSet
from lowface.data.lowlight import real_lowlight_photos
from lowface.filters import LUMA
from lowface.io import read_image

SIDES = ("top", "bottom", "left", "right")


def side_ratios(image: np.ndarray, edge: int, inner: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) in [0, 1] -> (4,) mean luma of the outer ``edge`` pixels over that of the band ``inner`` px in, per
    side (top, bottom, left, right); a floor of 1e-3 keeps black borders finite."""
    luma = image @ np.asarray(LUMA, np.float32) + 1e-3
    near, far = inner
    rows, cols = luma.mean(1), luma.mean(0)
    return np.array([
        rows[:edge].mean() / rows[near:far].mean(),
        rows[-edge:].mean() / rows[-far:-near].mean(),
        cols[:edge].mean() / cols[near:far].mean(),
        cols[-edge:].mean() / cols[-far:-near].mean(),
    ])  # fmt: skip


@click.command()
@click.argument("methods", nargs=-1, required=True)
@click.option("--photos", "which", type=click.Choice(["real", "train", "val", "test"]), default="real",
              show_default=True, help="lowlight_real's photos, or a SICE split's under-exposed frames.")  # fmt: skip
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--edge", default=3, show_default=True, help="Outer pixels compared.")
@click.option("--inner", default=(8, 20), type=(int, int), show_default=True, help="The band they are compared with.")
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON and markdown here.")
def main(methods, which, data_root, edge, inner, threads, out) -> None:
    torch.set_num_threads(threads)
    if which == "real":
        paths = real_lowlight_photos(data_root)
        names, photos = [p.name for p in paths], [read_image(p).rgb for p in paths]
    else:
        pairs = RealPairsSet.load(data_root, which)
        names, photos = pairs.names, pairs.dark
    if not photos:
        raise click.ClickException(f"no photos for {which!r} under {data_root}")
    inputs = np.stack([side_ratios(photo, edge, inner) for photo in photos])
    rows: dict[str, dict] = {}
    for spec in map(MethodSpec.parse, methods):
        enhancer = pretrained(spec.name, spec.weights)
        ratios = np.stack([side_ratios(enhancer.enhance(photo), edge, inner) for photo in photos]) / inputs
        weak = {names[i]: [round(float(r), 3) for r in ratios[i]] for i in np.flatnonzero(ratios.min(1) < 0.85)}
        rows[spec.label] = row = {
            "sides_under_0.9": float((ratios < 0.9).mean()),
            "p5": float(np.percentile(ratios, 5)),
            "median_per_side": dict(zip(SIDES, np.median(ratios, 0).round(3).tolist(), strict=True)),
            "photos_with_a_side_under_0.85": weak,
        }
        click.echo(f"{spec.label:28s} sides < 0.9: {100 * row['sides_under_0.9']:.1f} %  p5 {row['p5']:.3f}  "
                   f"photos with a side < 0.85: {len(weak)} of {len(photos)}")  # fmt: skip
    if out:
        record = {**provenance(threads), "photos": which, "count": len(photos), "edge": edge, "inner": list(inner),
                  "rows": rows}  # fmt: skip
        lines = [f"Border frame on {len(photos)} photos ({which}): `{record['command']}`, {record['date']}, "
                 f"{record['machine']}.", "", "| method | sides < 0.9 | 5th percentile | photos with a side < 0.85 |",
                 "|---|---|---|---|"]  # fmt: skip
        for label, row in rows.items():
            lines.append(f"| {label} | {100 * row['sides_under_0.9']:.1f} % | {row['p5']:.3f} | "
                         f"{len(row['photos_with_a_side_under_0.85'])} |")  # fmt: skip
        write_results(out, record, lines)


if __name__ == "__main__":
    main()
