"""How many faces a detector "invents" on a second real capture of the same scene (issue 20's bar is 0 for the
default's outputs): every SICE frame of a train or val scene whose exposure is near the reference's (mean luma within
a factor ``--within`` of it, the reference itself left out) is compared with the reference frame exactly as
``lowface bench`` compares an enhanced dark frame (a face not matched to a distinct reference face at IoU 0.3 is
"invented", lowface.bench.real_pairs.matched_faces). No enhancer is involved: the count is the detectors' own
disagreement between two real, well-exposed photos of one static scene - the floor under the bench's figure.

    python benchmarks/invented_floor.py --splits train,val --detectors mtcnn,hog,blazeface \
        --out benchmarks/results/no_reference/invented_floor.json
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch

from lowface.bench.real_pairs import matched_faces
from lowface.bench.report import provenance
from lowface.data.sice import load_scenes, sice_root
from lowface.face.detect import create_detector
from lowface.io import as_float, image_to_tensor, read_image


@click.command()
@click.option("--splits", default="train,val", show_default=True, help="SICE splits (comma-separated; not test).")
@click.option("--detectors", default="mtcnn,hog,blazeface", show_default=True)
@click.option("--within", default=2.0, show_default=True, help="Frames within this factor of the reference's luma.")
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--threads", default=1, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(splits, detectors, within, data_root, threads, out) -> None:
    torch.set_num_threads(threads)
    chosen = splits.split(",")
    if "test" in chosen:
        raise click.UsageError("the test scenes are the benchmark's: use train and val")
    networks = {name: create_detector(name) for name in detectors.split(",")}
    root = sice_root(data_root)
    counts = {name: {"invented": 0, "found": 0, "reference_faces": 0} for name in networks}
    frames, listed = 0, []
    for split in chosen:
        for scene in load_scenes(split):
            reference = as_float(read_image(root / f"{scene.reference}.jpg").rgb)
            level = float(reference.mean())
            shown = {name: [f.box for f in d.detect(image_to_tensor(reference)[0])] for name, d in networks.items()}
            for number in scene.frames:
                if number == scene.reference:
                    continue
                image = as_float(read_image(root / f"{number}.jpg").rgb)
                if not level / within <= float(image.mean()) <= level * within:
                    continue
                frames += 1
                for name, detector in networks.items():
                    found = [f.box for f in detector.detect(image_to_tensor(image)[0])]
                    matched = matched_faces(found, shown[name])
                    counts[name]["found"] += len(matched)
                    counts[name]["invented"] += len(found) - len(matched)
                    counts[name]["reference_faces"] += len(shown[name])
                    listed += [{"detector": name, "split": split, "frame": number, "reference": scene.reference,
                                "box": [round(float(v)) for v in np.asarray(found[i])]}
                               for i in range(len(found)) if i not in matched]  # fmt: skip
    for name, c in counts.items():
        click.echo(f"{name:10s} {c['invented']} invented, {c['found']} found on {frames} frames")
    record = {**provenance(threads), "splits": chosen, "within": within, "frames": frames, "counts": counts,
              "invented": listed}  # fmt: skip
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
