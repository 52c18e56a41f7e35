"""How much of the estimated darkness a Retinex enhancer should divide out (issue 20): one shipped network run with its
illumination I replaced by max(I, c^(1-p) I^p) for a list of powers p and pivots c (``FastEnhanceNet``'s
``illumination_power`` / ``illumination_pivot``; p = 1 is the network as shipped), on SICE's real pairs of one split
and, with ``--faces PRESET``, on CelebA's validation people darkened by that preset, with each judge's identity
similarity - as ``benchmarks/real_pairs_select.py`` scores them. Gamma 2.2 is scored beside them. Validation and
training data only: a design choice, never the test scenes.

    python benchmarks/illumination_power.py --split val --faces real-mix --variants 1,0.8:0.5,0.7:0.5 --out x.json
    python benchmarks/illumination_power.py --split train --every 6 --variants 1,0.8:0.5,0.7:0.5 --out y.json

A variant is ``p`` (pivot 1: I^p) or ``p:c``. ``mean``: the outputs' mean luma (the references': ``reference``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch

from lowface.bench.methods import pretrained
from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.bench.report import provenance
from lowface.bench.wild import embed_all, identity_similarity
from lowface.data.celeba import celeba_split
from lowface.data.synth import synthesize_float32
from lowface.face.pipeline import RecognitionPipeline
from lowface.filters import mean_luma
from lowface.io import read_image, to_uint8


def parse_variant(text: str) -> tuple[float, float]:
    """ "p" or "p:c" -> (power, pivot)."""
    power, _, pivot = text.partition(":")
    return float(power), float(pivot or 1.0)


def score(saved: list[np.ndarray], references: list[np.ndarray], batch: int) -> dict[str, float]:
    """Fidelity of uint8 outputs ``saved`` against ``references`` and their mean luma."""
    return {**pair_fidelity(saved, references, batch), "mean": float(np.mean([mean_luma(s / 255.0) for s in saved]))}


@click.command()
@click.option("--method", default="lowface-restore-real", show_default=True)
@click.option("--variants", default="1,0.8:0.5,0.7:0.5", show_default=True, help="Comma-separated p or p:c.")
@click.option("--split", type=click.Choice(["train", "val"]), default="val", show_default=True)
@click.option("--every", default=1, show_default=True, help="Take every n-th SICE frame of the split.")
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--faces", "face_preset", default=None, help="Also CelebA's validation people darkened by this preset.")
@click.option("--identity", "judges", default="facenet,dlib", show_default=True, help="With --faces.")
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def main(method, variants, split, every, data_root, face_preset, judges, threads, out) -> None:
    torch.set_num_threads(threads)
    pairs = RealPairsSet.load(data_root, split, every=every)
    sets = {"sice": (pairs.dark, pairs.references)}
    pipelines = {}
    if face_preset:
        clean = [read_image(p).rgb for p in celeba_split(data_root, "val")]
        sets["faces"] = (synthesize_float32(clean, face_preset, seed=0), clean)
        pipelines = {judge: RecognitionPipeline(judge).eval() for judge in filter(None, judges.split(","))}
    clean_vectors = {judge: embed_all(p, sets["faces"][1])[0] for judge, p in pipelines.items()}
    enhancer, gamma = pretrained(method), pretrained("gamma")
    net = getattr(enhancer.model, "enhancer", enhancer.model)
    if not hasattr(net, "illumination_power"):
        raise click.BadParameter(f"{method} has no fast illumination estimator to take gain back from", "--method")
    reference_mean = float(np.mean([mean_luma(r / 255.0) for r in sets["sice"][1]]))
    rows: dict[str, dict] = {"reference": {"sice": {"mean": reference_mean}}}
    for label, power, pivot in [(v, *parse_variant(v)) for v in variants.split(",")] + [("gamma", None, None)]:
        if label != "gamma":
            net.illumination_power, net.illumination_pivot = (None if power == 1 else power), pivot
        runner = gamma if label == "gamma" else enhancer
        for name, (dark, references) in sets.items():
            saved = [to_uint8(runner.enhance(image)) for image in dark]  # as written to disk
            row = rows.setdefault(label, {})[name] = score(saved, references, 16 if name == "sice" else 1)
            for judge, pipeline in pipelines.items() if name == "faces" else ():
                row[f"identity_{judge}"] = identity_similarity(pipeline, saved, references, clean_vectors[judge])
            click.echo(f"{label:8s} {name:5s} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
    if out:
        record = {**provenance(threads), "method": method, "split": split, "every": every, "face_preset": face_preset,
                  "frames": len(sets["sice"][0]), "rows": rows}  # fmt: skip
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
