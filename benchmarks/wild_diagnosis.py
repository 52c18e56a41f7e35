"""Where the identity of faces in the wild is lost: rank-1 of one enhancer's outputs, as they are and changed in ways
that isolate one cause, on CelebA photos of one split (train or val: choices and diagnosis, never test).

Usage:
    python benchmarks/wild_diagnosis.py --split train --model lowface-restore-real \
        --presets x0.15-noise0.02,physical-3 --variants enhanced,face-scale,oracle-colour,oracle-luma,stretch

Variants of the enhanced probe (gallery: each person's first photo, clean; end to end, as
benchmarks/wild_recognition.py):
- ``enhanced``: the model's output;
- ``face-scale``: the dark probe upscaled (bicubic) so that its face is ``--face-width`` px wide (LFW's scale, up to
  3x; the width of MTCNN's box on the clean photo), enhanced, and downscaled back (area): is the face too small for
  the network?
- ``oracle-colour`` / ``oracle-luma``: the output's per-channel (or luma) mean and standard deviation set to the clean
  photo's: how much would a perfect global colour and tone give?
- ``stretch``: a blind levels stretch of the output's luma (1st to 99.5th percentile);
- ``half``: halfway between the dark probe and the output (x + 0.5 (enhanced - x), as ``--strength 0.5`` gives):
  is the network's change too strong for this darkening?
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from lowface.bench.methods import pretrained
from lowface.bench.wild import embed_all, face_widths, gallery_and_probes
from lowface.data.celeba import celeba_identities, celeba_split
from lowface.data.synth import synthesize_float32
from lowface.face.pipeline import RecognitionPipeline
from lowface.filters import LUMA as LUMA_WEIGHTS
from lowface.inference.enhancer import Enhancer
from lowface.io import read_image

LUMA = np.array(LUMA_WEIGHTS, np.float32)


def colour_transfer(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3) with each channel's mean and std set to ``reference``'s."""
    mean, std = image.reshape(-1, 3).mean(0), image.reshape(-1, 3).std(0) + 1e-6
    return np.clip((image - mean) / std * reference.reshape(-1, 3).std(0) + reference.reshape(-1, 3).mean(0), 0, 1)


def luma_transfer(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` shifted and scaled so that its luma has ``reference``'s mean and std."""
    luma, target = image @ LUMA, reference @ LUMA
    return np.clip((image - luma.mean()) / (luma.std() + 1e-6) * target.std() + target.mean(), 0, 1)


def stretch(image: np.ndarray, low: float = 0.01, high: float = 0.995) -> np.ndarray:
    """A levels stretch: the ``low`` and ``high`` quantiles of the luma to 0 and 1."""
    black, white = np.quantile(image @ LUMA, [low, high])
    return np.clip((image - black) / max(white - black, 1e-3), 0, 1)


def at_scale(enhancer: Enhancer, image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` enhanced at ``factor`` times its size (bicubic up, area down); as is when ``factor`` <= 1.05."""
    if factor <= 1.05:
        return np.clip(enhancer.enhance(image), 0, 1)
    height, width = image.shape[:2]
    large = cv2.resize(image, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_CUBIC)
    out = enhancer.enhance(np.clip(large, 0, 1))
    return np.clip(cv2.resize(out, (width, height), interpolation=cv2.INTER_AREA), 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", default="train", choices=["train", "val"])
    parser.add_argument("--model", default="lowface-restore-real")
    parser.add_argument("--presets", default="x0.15-noise0.02,physical-3")
    parser.add_argument("--variants", default="enhanced,face-scale,oracle-colour,oracle-luma,stretch")
    parser.add_argument("--face-width", type=float, default=93.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    people = celeba_identities(args.data_root)
    paths = celeba_split(args.data_root, args.split)
    clean = [read_image(p).rgb for p in paths]
    labels = np.array([people[p] for p in paths])
    gallery, probes = gallery_and_probes(paths, people)
    probe_clean = [clean[i] for i in probes]
    enhancer = pretrained(args.model)
    variants = args.variants.split(",")
    if "face-scale" in variants:  # MTCNN on every clean probe: only when asked for
        factors = np.nan_to_num(np.minimum(3.0, args.face_width / face_widths(probe_clean)), nan=1.0)
    images: dict[tuple[str, str], list[np.ndarray]] = {}
    for preset in args.presets.split(","):
        dark = synthesize_float32(probe_clean, preset, seed=0)
        out = [np.clip(enhancer.enhance(d), 0, 1) for d in dark]
        images[preset, "none"] = dark
        made = {
            "enhanced": lambda out=out: out,
            "face-scale": lambda dark=dark: [at_scale(enhancer, d, f) for d, f in zip(dark, factors, strict=True)],
            "oracle-colour": lambda out=out: [colour_transfer(o, c) for o, c in zip(out, probe_clean, strict=True)],
            "oracle-luma": lambda out=out: [luma_transfer(o, c) for o, c in zip(out, probe_clean, strict=True)],
            "stretch": lambda out=out: [stretch(o) for o in out],
            "half": lambda out=out, dark=dark: [d + 0.5 * (o - d) for d, o in zip(dark, out, strict=True)],
        }
        for variant in variants:
            images[preset, variant] = made[variant]()
    print(f"{args.model}, CelebA {args.split}: {len(probes)} probes of {len(gallery)} people; rank-1 %", flush=True)
    for judge in ("facenet", "dlib"):
        pipeline = RecognitionPipeline(judge).eval()
        vectors, found = embed_all(pipeline, clean)

        def rank1(probe_vectors: np.ndarray, probe_found: np.ndarray, vectors: np.ndarray = vectors) -> float:
            nearest = (probe_vectors @ vectors[gallery].T).argmax(1)
            return 100 * float(np.mean((labels[gallery][nearest] == labels[probes]) & probe_found))

        for preset in args.presets.split(","):
            row = [f"clean {rank1(vectors[probes], found[probes]):.1f}"]
            row += [f"{variant} {rank1(*embed_all(pipeline, images[preset, variant])):.1f}"
                    for variant in ["none", *variants]]  # fmt: skip
            print(judge, preset, " | ".join(row), flush=True)


if __name__ == "__main__":
    main()
