"""Where the faces that enhancers invent on SICE's real scenes sit (issue 20): every face a detector finds on an
enhanced under-exposed frame that the scene's reference frame does not show (not matched to a distinct reference
face at IoU 0.3: ``lowface bench``'s "invented", lowface.bench.real_pairs.matched_faces), with its score, size and
place - for looking, not for scoring: ``lowface bench`` gives the counts on the test split; this is for the train
and val splits where choices are made.

``--split real``: the photos of ``lowlight_real/``, which have no reference. There, a face is listed when the output of
``--against`` (gamma by default) does not show it: the issue's bar for those photos is "no more faces than on the
gamma-corrected photos unless the extra ones are real", and the sheet is how one tells.

    python benchmarks/invented_faces.py --split val --every 1 --out runs/invented.json \
        --sheet runs/invented.png identity gamma lowface-auto mine=lowface-restore-real-fast:runs/x/model.safetensors

``--sheet`` also writes a contact sheet of every invented face, three tiles each (the dark frame, the method's
output, the reference or the ``--against`` output, 1.5x the box's size around it): dataset pixels, keep it out of
the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch
from PIL import Image

from lowface.bench.methods import MethodSpec, pretrained
from lowface.bench.real_pairs import RealPairsSet, matched_faces
from lowface.bench.report import provenance
from lowface.data.lowlight import LOWLIGHT_DIR, real_lowlight_photos
from lowface.face.detect import create_detector
from lowface.io import as_float, image_to_tensor, read_image, to_uint8

TILE = 128


def tile(image: np.ndarray, box: list[int]) -> Image.Image:
    """The (H, W, 3) uint8 ``image`` around ``box`` (x1, y1, x2, y2), with half the box's width on each side,
    resized to TILE x TILE (outside the image: black)."""
    x1, y1, x2, y2 = box
    margin = max(x2 - x1, y2 - y1) // 2
    return Image.fromarray(image).crop((x1 - margin, y1 - margin, x2 + margin, y2 + margin)).resize((TILE, TILE))


def contact_sheet(trios: list[tuple[Image.Image, ...]], columns: int = 4) -> Image.Image:
    """Groups of tiles in rows of ``columns`` groups (fewer when there are fewer), a 2-px white gap between tiles."""
    per_group, columns = len(trios[0]), min(columns, len(trios))
    rows = -(-len(trios) // columns)
    sheet = Image.new("RGB", (columns * per_group * (TILE + 2), rows * (TILE + 2)), "white")
    for k, trio in enumerate(trios):
        for t, image in enumerate(trio):
            sheet.paste(image, (((k % columns) * per_group + t) * (TILE + 2), (k // columns) * (TILE + 2)))
    return sheet


def real_photos(data_root: Path, every: int, against: str) -> RealPairsSet:
    """Every ``every``-th photo of ``lowlight_real/`` (float32) with the ``against`` method's output (uint8) as its
    stand-in reference."""
    paths = real_lowlight_photos(data_root)[::every]
    photos = [read_image(path).rgb for path in paths]
    spec = MethodSpec.parse(against)
    enhancer = pretrained(spec.name, spec.weights)
    names = [str(path.relative_to(data_root / LOWLIGHT_DIR)) for path in paths]
    return RealPairsSet("real", names, photos, [to_uint8(enhancer.enhance(photo)) for photo in photos])


@click.command()
@click.argument("methods", nargs=-1, required=True)
@click.option("--split", type=click.Choice(["train", "val", "test", "real"]), default="val", show_default=True)
@click.option("--every", default=1, show_default=True, help="Take every n-th SICE frame (or real photo).")
@click.option(
    "--against", default="gamma", show_default=True, help="--split real: the method standing in for a reference."
)
@click.option("--detector", "detector_name", default="mtcnn", show_default=True)
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--threads", default=1, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JSON of every face.")
@click.option("--sheet", type=click.Path(dir_okay=False, path_type=Path), help="Contact sheet (PNG) of them.")
def main(methods, split, every, against, detector_name, data_root, threads, out, sheet) -> None:
    torch.set_num_threads(threads)
    pairs = (
        real_photos(data_root, every, against) if split == "real" else RealPairsSet.load(data_root, split, every=every)
    )
    detector = create_detector(detector_name)

    def boxes(image: np.ndarray) -> list:
        return detector.detect(image_to_tensor(as_float(image))[0])

    references = [boxes(reference) for reference in pairs.references]
    faces, trios, counts = [], [], {}
    for spec in map(MethodSpec.parse, methods):
        enhancer = pretrained(spec.name, spec.weights)
        counts[spec.label] = 0
        for name, dark, reference, shown in zip(pairs.names, pairs.dark, pairs.references, references, strict=True):
            output = to_uint8(enhancer.enhance(dark))
            found = boxes(output)
            shown_too = matched_faces([f.box for f in found], [r.box for r in shown])
            for face in (f for i, f in enumerate(found) if i not in shown_too):
                box = [int(v) for v in np.rint(face.box)]
                inside = output[max(box[1], 0) : box[3], max(box[0], 0) : box[2]]
                level = round(float(inside.mean()) / 255, 3)
                faces.append({"method": spec.label, "frame": name, "score": round(face.score, 4), "box": box,
                              "width": box[2] - box[0], "mean_level": level})  # fmt: skip
                counts[spec.label] += 1
                if sheet:
                    trios.append(tuple(tile(image, box) for image in (to_uint8(dark), output, reference)))
        click.echo(f"{spec.label:24s} {counts[spec.label]} invented {detector_name} faces on {len(pairs.dark)} frames")
    record = {**provenance(threads), "split": split, "every": every, "frames": len(pairs.dark),
              **({"against": against} if split == "real" else {}),
              "detector": detector_name, "invented": counts, "faces": faces}  # fmt: skip
    out.write_text(json.dumps(record, indent=1) + "\n")
    if sheet and trios:
        contact_sheet(trios).save(sheet)


if __name__ == "__main__":
    main()
