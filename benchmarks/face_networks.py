"""LFW verification with the offline recognizers, and detection rates of the offline detectors.

Usage:
    python benchmarks/face_networks.py --data-root ../shared/data --out benchmarks/results/face_networks.json
    python benchmarks/face_networks.py --pairs 600      # the first 600 pairs only (fold 1)

Protocol: pairs.txt View 2; cosine similarity of unit embeddings; 10-fold accuracy with the threshold
chosen on the other nine folds (a subset inside one official fold is split into 10 interleaved parts);
TAR at FAR = 1e-3 over all pairs. A face the detector misses is embedded from a centred fallback crop
and counted in the detection rate.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from common import provenance, write_results
from tqdm import tqdm

from lowface.data.lfw import lfw_image_path, lfw_pairs
from lowface.face.detect import DETECTORS, create_detector
from lowface.face.pipeline import RecognitionPipeline
from lowface.io import image_to_tensor, read_image
from lowface.metrics.face import tar_at_far, verification_accuracy
from lowface.registry import RECOGNIZERS


def embed_images(
    pipeline: RecognitionPipeline, data_root: Path, keys: list[tuple[str, int]], batch: int = 16
) -> tuple[dict, float, float]:
    """{(name, number): embedding}, (detection rate of the pipeline, of its primary detector alone),
    milliseconds per face (detect + align + embed)."""
    embeddings, detected, by_primary, start = {}, 0, 0, time.perf_counter()
    for begin in tqdm(range(0, len(keys), batch), desc=pipeline.name, unit="batch"):
        chunk = keys[begin : begin + batch]
        images = [image_to_tensor(read_image(lfw_image_path(data_root, *key)).rgb)[0] for key in chunk]
        alignments = [pipeline.align(image) for image in images]
        detected += sum(a.detected for a in alignments)
        by_primary += sum(a.detected and a.detector == pipeline_primary(pipeline) for a in alignments)
        with torch.no_grad():
            vectors = pipeline.embed(torch.stack(images), alignments).numpy()
        embeddings.update(zip(chunk, vectors, strict=True))
    milliseconds = 1000 * (time.perf_counter() - start) / len(keys)
    return embeddings, (detected / len(keys), by_primary / len(keys)), milliseconds


def detection_rates(names: list[str], data_root: Path, keys: list[tuple[str, int]]) -> dict[str, dict]:
    """Each detector alone on every image: the share with at least one face, and milliseconds per image."""
    results = {}
    for name in names:
        detector, found, elapsed = create_detector(name), 0, 0.0
        for key in tqdm(keys, desc=name, unit="image", mininterval=5):
            image = image_to_tensor(read_image(lfw_image_path(data_root, *key)).rgb)[0]
            start = time.perf_counter()
            found += bool(detector.detect(image))
            elapsed += time.perf_counter() - start
        results[name] = {"detection_rate": found / len(keys), "ms_per_image": 1000 * elapsed / len(keys)}
        print(f"{name}: detection {100 * found / len(keys):.2f}%, {1000 * elapsed / len(keys):.1f} ms/image")
    return results


def pipeline_primary(pipeline: RecognitionPipeline) -> str:
    return "hog" if pipeline.name == "dlib" else "mtcnn"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pairs", type=int, default=6000, help="use the first N pairs")
    parser.add_argument("--recognizers", default=",".join(RECOGNIZERS.names()))
    parser.add_argument("--detectors", default=",".join(DETECTORS), help="detectors timed alone ('' for none)")
    parser.add_argument("--flip", action="store_true", help="embed each face and its mirror image (mean)")
    parser.add_argument("--note", default="", help="a sentence for the results header (e.g. what else ran)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/face_networks.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    pairs = lfw_pairs(args.data_root)[: args.pairs]
    keys = sorted({p.first for p in pairs} | {p.second for p in pairs})
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    if len(np.unique(folds)) < 2:  # a subset inside one official fold: cross-validate over 10 interleaved parts
        folds = np.arange(len(pairs)) % 10
    results = {}
    for name in args.recognizers.split(","):
        pipeline = RecognitionPipeline(name, flip=args.flip)
        embeddings, (detection_rate, primary_rate), ms = embed_images(pipeline, args.data_root, keys)
        scores = np.array([float(embeddings[p.first] @ embeddings[p.second]) for p in pairs])
        verification = verification_accuracy(scores, same, folds)
        results[name] = {
            "accuracy": verification.accuracy,
            "accuracy_std": verification.std,
            "fold_accuracies": verification.fold_accuracies,
            "tar_at_far_1e-3": tar_at_far(scores, same, 1e-3),
            "detector": pipeline_primary(pipeline) + (" (+ mtcnn box)" if pipeline.backup is not None else ""),
            "detection_rate": detection_rate,
            "primary_detection_rate": primary_rate,
            "ms_per_face": ms,
        }
        print(
            f"{name}: accuracy {100 * verification.accuracy:.2f}% +- {100 * verification.std:.2f}, "
            f"detection {100 * detection_rate:.2f}%, {ms:.0f} ms/face",
            flush=True,
        )

    detectors = detection_rates([d for d in args.detectors.split(",") if d], args.data_root, keys)
    record = {
        **provenance(args.threads),
        "pairs": len(pairs),
        "images": len(keys),
        "flip": args.flip,
        "note": args.note,
        "results": results,
        "detectors": detectors,
    }
    lines = [
        f"LFW verification, {len(pairs)} pairs / {len(keys)} images. Command: `{record['command']}`, "
        f"{record['date']}, {record['machine']}."
        + (" Embeddings: mean of the face and its mirror image." if args.flip else "")
        + (f" {args.note}" if args.note else ""),
        "",
        "| recognizer | detector | accuracy (10-fold) | TAR@FAR=1e-3 | detection rate (primary alone) | ms/face |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['detector']} | {100 * r['accuracy']:.2f} +- {100 * r['accuracy_std']:.2f} "
            f"| {100 * r['tar_at_far_1e-3']:.2f} | {100 * r['detection_rate']:.2f} "
            f"({100 * r['primary_detection_rate']:.2f}) | {r['ms_per_face']:.0f} |"
        )
    if detectors:
        lines += ["", "| detector (alone) | images with a face | ms/image |", "|---|---|---|"]
        lines += [
            f"| {name} | {100 * r['detection_rate']:.2f} | {r['ms_per_image']:.1f} |" for name, r in detectors.items()
        ]
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
