"""Faces in the wild: closed-set identification and false matches on the CelebA test people, end to end.

Usage:
    python benchmarks/wild_recognition.py --data-root ../shared/data \
        --presets x0.15-noise0.02,gamma-noise-strong,physical-3 --methods none,gamma,lowface-fast,lowface-auto \
        --out benchmarks/results/wild_recognition.json

The same protocol as ``lowface bench``'s in-the-wild part (lowface.bench.wild), with any presets and methods and
the figures per judge in one table. Protocol (lowface.data.celeba's committed split; test people only, never
trained on or used to choose anything): gallery = each person's first photo (by file name), clean; probes = the
other photos darkened by a synthesis preset (seed 0), then processed by each method (the raw model; a name ending
in ``+gate``: behind the exposure gate, as shipped). Per judge (FaceNet with MTCNN, dlib with HOG and an MTCNN backup):
- end to end: the face is found on the processed probe by the judge's own detector (the most central one); a probe
  where none is found counts as a miss; oracle: aligned as on its clean photo, so only recognition is measured;
- rank-1 against the clean gallery, and recovery = (method - none) / (clean - none); rank-1 also by face size
  (the width of MTCNN's box on the clean photo: small < 64 px <= medium < 96 px <= large; LFW's faces are ~93);
- false matches: the thresholds that give FAR 1e-3 and 1e-2 on CLEAN impostor pairs (every two clean photos of
  different people), then for processed probes against the gallery: the false-accept rate at those thresholds, the
  true-accept rate of their own gallery photo, and the shift of the impostor similarities' mean from the clean
  probes'; and the new false accepts: pairs accepted for the processed probe but not for its clean photo.
  Enhancement that makes different people look alike shows there; a FAR above the dark input's alone can be the
  clean photos' own false matches coming back (darkness lowers every similarity, false matches too).
"""

from __future__ import annotations

import argparse
import hashlib
from functools import partial
from pathlib import Path

import numpy as np
import torch
from common import provenance, write_results

from lowface.bench.methods import MethodSpec, cached_enhance, weights_id
from lowface.bench.wild import (
    SIZE_EDGES,
    SIZE_NAMES,
    embed_all,
    face_widths,
    gallery_and_probes,
    score_probes,
    size_bins,
    threshold_at,
)
from lowface.data.celeba import celeba_identities, celeba_split
from lowface.data.synth import synthesize_float32
from lowface.face.pipeline import RecognitionPipeline
from lowface.io import read_image


def enhanced(spec: MethodSpec, dark: list[np.ndarray], cache: Path) -> list[np.ndarray]:
    """``dark`` through the method ("none": as is), float32 in [0, 1] as saved (8 bits), cached as ``lowface bench``
    caches (lowface.bench.methods.cached_enhance)."""
    if spec.name == "none":
        return dark
    images, _ = cached_enhance(spec.name, spec.weights, dark, cache)
    return [im.astype(np.float32) / 255 for im in images]


def by_size(row: dict) -> str:
    """ "small / medium / large" rank-1 in percent ("-" for an empty bin)."""
    values = (row.get(f"rank1_{name}", float("nan")) for name in SIZE_NAMES)
    return " / ".join("-" if np.isnan(v) else f"{100 * v:.0f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--presets", default="x0.15-noise0.02,gamma-noise-strong,physical-3")
    parser.add_argument("--methods", default="none,gamma,lowface-fast,lowface-auto")
    parser.add_argument("--judges", default="facenet,dlib")
    parser.add_argument(
        "--split",
        default="test",
        choices=["train", "val", "test"],
        help="whose photos: test reports; val (or train, for weights that never saw CelebA) chooses",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/wild-cache"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/wild_recognition.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    people = celeba_identities(args.data_root)
    paths = celeba_split(args.data_root, args.split)
    clean = [read_image(p).rgb for p in paths]
    labels = np.array([people[p] for p in paths])
    gallery, probes = gallery_and_probes(paths, people)
    bins = size_bins(face_widths([clean[i] for i in probes]))
    sizes = {name: int((bins == i).sum()) for i, name in enumerate(SIZE_NAMES)}
    results: dict = {"people": len(set(labels)), "gallery": len(gallery), "probes": len(probes),
                     "probes_by_size": sizes, "size_edges_px": list(SIZE_EDGES), "judges": {}}  # fmt: skip
    for judge in args.judges.split(","):
        pipeline = RecognitionPipeline(judge).eval()
        clean_vectors, clean_found = embed_all(pipeline, clean)
        scores = clean_vectors @ clean_vectors.T
        different = labels[:, None] != labels[None, :]
        upper = np.triu(np.ones_like(scores, bool), 1)
        impostors = scores[different & upper]
        thresholds = {far: threshold_at(impostors, far) for far in (1e-3, 1e-2)}

        judge_row = partial(score_probes, gallery_vectors=clean_vectors[gallery], gallery_labels=labels[gallery],
                            probe_labels=labels[probes], thresholds=thresholds, bins=bins,
                            clean_probe_vectors=clean_vectors[probes])  # fmt: skip
        rows = {"clean": judge_row(clean_vectors[probes], clean_found[probes])}
        clean_impostor_mean = rows["clean"]["impostor_mean"]
        per_preset = {}
        for preset in args.presets.split(","):
            dark = synthesize_float32([clean[i] for i in probes], preset, seed=0)
            preset_rows = {}
            for spec in map(MethodSpec.parse, args.methods.split(",")):
                weights = weights_id(spec.name, spec.weights) if spec.name != "none" else ""  # reshipped: new cache
                key = hashlib.sha256(f"{preset}{spec.name}{weights}{paths}".encode()).hexdigest()[:12]
                images = enhanced(spec, dark, args.cache_dir / f"enhanced-{spec.label}-{key}.npz")
                end_to_end = embed_all(pipeline, images)
                oracle = embed_all(pipeline, images, aligned_on=[clean[i] for i in probes])
                row = judge_row(*end_to_end)
                row["rank1_oracle"] = judge_row(*oracle)["rank1"]
                row["impostor_shift"] = row["impostor_mean"] - clean_impostor_mean
                preset_rows[spec.label] = row
                print(judge, preset, spec.label, {k: round(v, 4) for k, v in row.items()}, flush=True)
            none = preset_rows.get("none")
            for row in preset_rows.values():
                if none is not None:
                    gap = rows["clean"]["rank1"] - none["rank1"]
                    row["recovery"] = (row["rank1"] - none["rank1"]) / gap if gap > 0 else None
            per_preset[preset] = preset_rows
        named = {f"{k:g}": v for k, v in thresholds.items()}
        results["judges"][judge] = {"thresholds": named, "clean": rows["clean"], "presets": per_preset}
    record = {**provenance(args.threads), "results": results}
    lines = [
        f"Identification of the {results['people']} CelebA {args.split} people in the wild "
        f"({results['gallery']} clean gallery photos, {results['probes']} probes darkened by each preset, then "
        f"each method; end to end: the judge's "
        f"detector runs on the processed probe, a missed face is a miss). FAR / TAR at the thresholds giving FAR "
        f"1e-3 on clean impostor pairs; new FA = the impostor pairs accepted at that threshold for the processed "
        f"probe but not for its clean photo (false matches the processing made, not the recognizer's own); "
        f"shift = mean impostor similarity minus the clean probes'. Rank-1 by face "
        f"size: the width of MTCNN's box on the clean photo, small < {SIZE_EDGES[0]:g} px <= medium < "
        f"{SIZE_EDGES[1]:g} px <= large ({sizes['small']} / {sizes['medium']} / {sizes['large']} probes; "
        f"LFW's faces ~93 px). "
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}.",
        "",
        "| judge | preset | method | rank-1 % | recovery | oracle rank-1 % | face found % | FAR@1e-3 | new FA@1e-3 | "
        "TAR@1e-3 | FAR@1e-2 | impostor shift | rank-1 small / medium / large % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for judge, block in results["judges"].items():
        c = block["clean"]
        lines.append(f"| {judge} | - | clean | {100 * c['rank1']:.1f} | 100 % | - | {100 * c['found']:.1f} | "
                     f"{c['far_at_0.001']:.4f} | 0 | {c['tar_at_0.001']:.3f} | {c['far_at_0.01']:.4f} | 0 | "
                     f"{by_size(c)} |")  # fmt: skip
        for preset, rows in block["presets"].items():
            for label, r in rows.items():
                recovery = f"{100 * r['recovery']:.0f} %" if r.get("recovery") is not None else "-"
                lines.append(
                    f"| {judge} | {preset} | {label} | {100 * r['rank1']:.1f} | {recovery} | "
                    f"{100 * r['rank1_oracle']:.1f} | {100 * r['found']:.1f} | {r['far_at_0.001']:.4f} | "
                    f"{r['new_far_at_0.001']:.4f} | "
                    f"{r['tar_at_0.001']:.3f} | {r['far_at_0.01']:.4f} | {r['impostor_shift']:+.4f} | {by_size(r)} |"
                )
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
