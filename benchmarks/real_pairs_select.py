"""Fidelity of enhancers on SICE's real pairs of one split - the quick check used to choose weights (on ``val``; the
test split is for reporting, with ``lowface bench``) - and, with ``--faces PRESET``, on the validation people of the
in-the-wild CelebA photos darkened by a synthesis preset (lowface.data.celeba; never LFW's benchmark pairs). No face
detection, no caching.

    python benchmarks/real_pairs_select.py --split val --faces real-mix \
        lowface-fast mine=lowface-fast:runs/x/model.safetensors
    python benchmarks/real_pairs_select.py --split train --every 6 lowface-fast mine=...  # does val's choice hold?

Per method: mean PSNR, brightness-matched PSNR, SSIM and CIEDE2000 against each frame's scene reference (outputs
rounded to 8 bits, as saved), as ``lowface bench`` computes them (lowface.bench.real_pairs.pair_fidelity); the
same on the darkened faces against the clean photos; with ``--no-reference``, also the NIQE and BRISQUE of the
enhanced SICE frames (lower is better, as on the real photos); with ``--identity facenet,dlib``, also each judge's mean
cosine similarity between an enhanced face and its own clean photo (both aligned as on the clean photo): a
continuous, low-variance measure of the identity kept, for choosing among weights where rank-1 on 18 people moves
by 1.4 points a probe; with ``--lfw-images N``, also N of LFW's held-out training images (never its benchmark pairs)
under each of the noise router's training presets, the guard that a real-scene setting costs the faces nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch

from lowface.bench.methods import MethodSpec, pretrained
from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.bench.report import provenance
from lowface.bench.wild import embed_all, identity_similarity
from lowface.data.celeba import celeba_split
from lowface.data.synth import synthesize_float32
from lowface.face.pipeline import RecognitionPipeline
from lowface.io import read_image
from lowface.metrics.brisque import brisque
from lowface.metrics.niqe import niqe


@click.command()
@click.argument("methods", nargs=-1, required=True)
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="val", show_default=True)
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--every", default=1, show_default=True, help="Take every n-th SICE frame of the split.")
@click.option("--threads", default=2, show_default=True)
@click.option("--faces", "face_preset", default=None, help="Also CelebA's validation people darkened by this preset.")
@click.option("--sice/--no-sice", default=True, show_default=True, help="Score SICE's frames (--no-sice: faces only).")
@click.option("--identity", "judges", default="", help="With --faces: judges whose identity similarity to report.")
@click.option("--no-reference", "no_reference", is_flag=True, help="Also NIQE and BRISQUE of the SICE outputs.")
@click.option(
    "--lfw-images",
    default=0,
    show_default=True,
    help="Also this many of LFW's held-out training images under each of the router's presets (a guard).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON.")
def main(methods, split, data_root, every, threads, face_preset, sice, judges, no_reference, lfw_images, out) -> None:
    torch.set_num_threads(threads)
    if not sice and not face_preset and not lfw_images:
        raise click.UsageError("nothing to score: give --faces PRESET or --lfw-images N, or keep --sice")
    pairs = RealPairsSet.load(data_root, split, every=every) if sice else None
    sets = {"sice": (pairs.dark, pairs.references)} if pairs is not None else {}
    if face_preset:
        clean = [read_image(p).rgb for p in celeba_split(data_root, "val")]
        sets["faces"] = (synthesize_float32(clean, face_preset, seed=0), clean)
    if lfw_images:  # the router fit's held-out half of LFW's training list, as soft_routing.validation_sets takes it
        from soft_routing import lfw_guard_sets

        sets |= lfw_guard_sets(data_root, lfw_images)
    rows: dict[str, dict] = {}
    pipelines = {judge: RecognitionPipeline(judge).eval() for judge in filter(None, judges.split(","))}
    if pipelines and not face_preset:
        raise click.UsageError("--identity needs --faces PRESET")
    clean_vectors = {judge: embed_all(p, sets["faces"][1])[0] for judge, p in pipelines.items()}
    for spec in map(MethodSpec.parse, methods):
        enhancer = pretrained(spec.name, spec.weights)
        for name, (dark, references) in sets.items():
            images = [np.round(enhancer.enhance(image) * 255).astype(np.uint8) for image in dark]
            batch = 1 if name == "faces" else 16  # the faces differ in size
            r = rows.setdefault(spec.label, {})[name] = pair_fidelity(images, references, batch)
            if name == "sice" and no_reference:
                r["niqe"], r["brisque"] = float(np.mean([*map(niqe, images)])), float(np.mean([*map(brisque, images)]))
                click.echo(f"{spec.label:24s} sice  NIQE {r['niqe']:.3f}  BRISQUE {r['brisque']:.2f}")
            if name == "faces" and pipelines:
                for judge, pipeline in pipelines.items():
                    r[f"identity_{judge}"] = identity_similarity(pipeline, images, references, clean_vectors[judge])
                click.echo(f"{spec.label:24s} identity " + "  ".join(
                    f"{judge} {r[f'identity_{judge}']:.4f}" for judge in pipelines))  # fmt: skip
            click.echo(
                f"{spec.label:24s} {name:5s} PSNR {r['psnr']:.2f}  matched {r['psnr_matched']:.2f}  "
                f"SSIM {r['ssim']:.3f}  dE00 {r['ciede2000']:.2f}  "
                f"(matched: SSIM {r['ssim_matched']:.3f}, dE00 {r['ciede2000_matched']:.2f})"
            )
    if out:
        frames = len(pairs.dark) if pairs is not None else 0
        record = {**provenance(threads), "split": split, "every": every, "frames": frames, "face_preset": face_preset,
                  "faces": len(sets["faces"][0]) if face_preset else 0, "lfw_images": lfw_images,
                  "rows": rows}  # fmt: skip
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
