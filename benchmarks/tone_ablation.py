"""What the pointwise tone head of a restoring network (``RestoreNet.tone``) does to real scenes and to faces (issue
20): the network as shipped, without its tone head, and without it but scaled globally to the shipped output's mean
luma (the head's brightness kept, its per-pixel shape dropped), and with ``--chroma`` the head's correction made
(partly) achromatic: each pixel's correction replaced by its luma plus a share of its colour part (0: the same
offset on R, G and B - the head may still lift and shape the tone, but no longer change colourfulness). On SICE's
real pairs of one split and on CelebA's validation people darkened by a synthesis preset, with each judge's identity
similarity, as ``benchmarks/real_pairs_select.py`` scores them. Validation data only: a diagnosis, not a report.

    python benchmarks/tone_ablation.py --split val --faces real-mix --out runs/tone_ablation.json
    python benchmarks/tone_ablation.py --split val --faces real-mix --chroma 0,0.5 --out runs/tone_chroma.json
    python benchmarks/tone_ablation.py --split train --every 6 --faces none --out runs/tone_ablation_train.json

``--split train`` (every ``--every``-th frame, ``--faces none``: SICE only) asks whether what validation shows holds
on the frames the network trained on - a check of the validation set, not a choice.

Each image is enhanced once with and once without the head (the same network otherwise); outputs rounded to 8 bits.
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
from lowface.filters import LUMA, mean_luma
from lowface.io import as_float, read_image

LUMA_WEIGHTS = np.asarray(LUMA, np.float32)


def with_chroma_share(enhancer, share: float):
    """``enhancer`` with its restoring network's tone head keeping ``share`` of its correction's colour (in place;
    ``RestoreNet(tone_chroma=share)``)."""
    enhancer.model.tone.chroma_share = share
    return enhancer


def variants(name: str, images: list[np.ndarray], chroma_shares: tuple[float, ...] = ()) -> dict[str, list[np.ndarray]]:
    """The variants' (H, W, 3) outputs in [0, 1] for ``images``, by variant name."""
    enhancer = pretrained(name)
    toned = [enhancer.enhance(image) for image in images]
    shared = {f"head's colour x{share:g}": [with_chroma_share(pretrained(name), share).enhance(image)
                                            for image in images] for share in chroma_shares}  # fmt: skip
    enhancer.model.tone = None
    plain = [enhancer.enhance(image) for image in images]
    gains = [mean_luma(t) / max(mean_luma(p), 1e-4) for t, p in zip(toned, plain, strict=True)]
    scaled = [np.clip(p * gain, 0, 1) for p, gain in zip(plain, gains, strict=True)]
    return {"shipped": toned, "no tone head": plain, "no tone head, global gain": scaled, **shared}


def tone_statistics(images: list[np.ndarray]) -> dict[str, float]:
    """Medians over images of the mean luma, its 2nd and 98th percentiles, contrast (std / mean) and colourfulness
    (mean |channel - luma| / mean luma)."""
    rows = []
    for image in map(as_float, images):
        luma = image @ LUMA_WEIGHTS
        chroma = np.abs(image - luma[..., None]).mean()
        rows.append((luma.mean(), *np.percentile(luma, [2, 98]), luma.std() / luma.mean(), chroma / luma.mean()))
    keys = ("mean", "p2", "p98", "contrast", "colourfulness")
    return dict(zip(keys, map(float, np.median(np.array(rows), 0)), strict=True))


@click.command()
@click.option("--method", default="lowface-restore-real", show_default=True)
@click.option("--split", type=click.Choice(["train", "val"]), default="val", show_default=True)
@click.option("--every", default=1, show_default=True, help="Take every n-th SICE frame of the split.")
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--faces", "face_preset", default="real-mix", show_default=True, help="Synthesis preset, or none.")
@click.option("--identity", "judges", default="facenet,dlib", show_default=True)
@click.option("--chroma", default="", help="Also the head with these shares of its colour kept, e.g. 0,0.5.")
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def main(method, split, every, data_root, face_preset, judges, chroma, threads, out) -> None:
    torch.set_num_threads(threads)
    shares = tuple(float(share) for share in filter(None, chroma.split(",")))
    pairs = RealPairsSet.load(data_root, split, every=every)
    with_faces = face_preset != "none"
    clean = [read_image(p).rgb for p in celeba_split(data_root, "val")] if with_faces else []
    faces = synthesize_float32(clean, face_preset, seed=0) if with_faces else []
    pipelines = {judge: RecognitionPipeline(judge).eval() for judge in judges.split(",") if judge and with_faces}
    clean_vectors = {judge: embed_all(p, clean)[0] for judge, p in pipelines.items()}
    rows: dict[str, dict] = {"reference": {"sice_tone": tone_statistics(pairs.references)}}
    for label, images in (("sice", pairs.dark), ("faces", faces)) if with_faces else (("sice", pairs.dark),):
        references = pairs.references if label == "sice" else clean
        for variant, outputs in variants(method, images, shares).items():
            saved = [np.round(o * 255).astype(np.uint8) for o in outputs]
            row = rows.setdefault(variant, {})
            row[label] = pair_fidelity(saved, references, 16 if label == "sice" else 1)
            if label == "sice":
                row["sice_tone"] = tone_statistics(saved)
            else:
                for judge, pipeline in pipelines.items():
                    row[label][f"identity_{judge}"] = identity_similarity(pipeline, saved, clean, clean_vectors[judge])
            click.echo(f"{variant:28s} {label:5s} " + "  ".join(f"{k} {v:.3f}" for k, v in row[label].items()))
    for variant, row in rows.items():
        click.echo(f"{variant:28s} SICE tone " + "  ".join(f"{k} {v:.3f}" for k, v in row["sice_tone"].items()))
    if out:
        record = {**provenance(threads), "method": method, "split": split, "every": every, "face_preset": face_preset,
                  "frames": len(pairs.dark), "faces": len(faces), "rows": rows}  # fmt: skip
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
