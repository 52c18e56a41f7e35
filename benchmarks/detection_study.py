"""Seed 003's question on our data: does enhancement help face DETECTION and landmarks, or hurt them?

Usage:
    python benchmarks/detection_study.py --data-root ../shared/data --pairs 600 \
        --presets linear,gamma-noise,x0.15-noise0.02 --out benchmarks/results/detection_study.json

LFW (synthetic darkening, a known face in every image): the images of the first N pairs of pairs.txt, darkened
with each preset exactly as benchmarks/recognition.py does (seed 0; enhanced images shared through its cache),
then enhanced by each method. Per detector:
- detection rate: share of images with a detection whose box centre lies within 1/4 of the image size of the
  image centre (LFW's subject is centred; faces in the background do not count);
- landmark success: share of the images whose clean version gets such a detection where the detection on the
  processed image puts the eye centres and the nose within 10% of the inter-ocular distance of the clean
  detection's (mean distance; the detector is its own reference).
Real low-light photos (../shared/data/lowlight_real, no ground truth): faces found per method and detector,
a count, not a rate - more can mean false positives.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from common import provenance, write_results
from recognition import parse_method
from tqdm import tqdm

from lowface.bench.faces import detect_central, detection_scores
from lowface.bench.methods import method_images, pretrained
from lowface.data.lfw import lfw_image_path, lfw_pairs
from lowface.data.lowlight import real_lowlight_photos
from lowface.data.synth import synthesize_float32
from lowface.face.detect import create_detector
from lowface.io import image_to_tensor, read_image

DEFAULT_METHODS = "clean,none,gamma,retinexnet,zero-dce,sci,lowface,lowface-fast,lowface-restore"
SEED_003 = (
    "Seed 003 (124 real selfies, one SFD-based face detector): original 95.16%, RetinexNet retrained by the seed's "
    "author 84.68%, RetinexNet with its authors' weights 63.71%, gamma 93.54%."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pairs", type=int, default=600, help="use the images of the first N pairs of pairs.txt")
    parser.add_argument("--presets", default="linear,gamma-noise,x0.15-noise0.02")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help="names, or label=name:weights.safetensors")
    parser.add_argument("--detectors", default="mtcnn,hog,blazeface")
    parser.add_argument("--real-limit", type=int, default=None, help="use only the first N real photos")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/bench-cache"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/detection_study.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.cache_dir.mkdir(parents=True, exist_ok=True)

    pairs = lfw_pairs(args.data_root)[: args.pairs]
    keys = sorted({p.first for p in pairs} | {p.second for p in pairs})
    clean = [read_image(lfw_image_path(args.data_root, *key)).rgb for key in tqdm(keys, desc="reading", unit="img")]
    detectors = {name: create_detector(name) for name in args.detectors.split(",")}
    references = {name: detect_central(d, clean, f"clean {name}") for name, d in detectors.items()}
    methods = [spec for spec in args.methods.split(",")]

    lfw: dict = {}
    for preset in args.presets.split(","):
        dark = synthesize_float32(clean, preset, seed=0)
        lfw[preset] = {}
        for spec in methods:
            label = parse_method(spec)[0]
            images = method_images(spec, preset, clean, dark, args.pairs, args.cache_dir)[0]
            row = {}
            for name, detector in detectors.items():
                found = references[name] if label == "clean" else detect_central(detector, images, f"{label} {name}")
                row[name] = detection_scores(found, references[name])
            lfw[preset][label] = row
            print(preset, label, {n: f"{100 * r['detection_rate']:.1f}" for n, r in row.items()}, flush=True)

    real: dict = {}
    photos = real_lowlight_photos(args.data_root, args.real_limit)
    originals = [read_image(path).rgb for path in tqdm(photos, desc="reading real", unit="img")]
    for spec in methods:
        label, name, weights = parse_method(spec)
        if label == "clean":
            continue
        if label == "none":
            images = originals
        else:
            enhancer = pretrained(name, weights)
            images = [enhancer.enhance(im) for im in tqdm(originals, desc=f"real {label}", unit="img", leave=False)]
        real[label] = {}
        for detector_name, detector in detectors.items():
            counts = [
                len(detector.detect(image_to_tensor(np.asarray(im, np.float32))[0]))
                for im in tqdm(images, desc=f"real {label} {detector_name}", leave=False)
            ]
            real[label][detector_name] = {"faces": int(sum(counts)), "images_with_faces": int(np.count_nonzero(counts))}

    record = {
        **provenance(args.threads),
        "pairs": len(pairs),
        "images": len(keys),
        "real_photos": len(photos),
        "lfw": lfw,
        "real": real,
        "seed_003": SEED_003,
    }
    names = list(detectors)
    lines = [
        f"Face detection and landmarks, clean / dark / enhanced. LFW: the {len(keys)} images of the first "
        f"{len(pairs)} pairs; detection rate (%) of the centred face / landmark success (%: eyes and nose within "
        f"10% of the inter-ocular distance of the detector's own result on the clean image). "
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}.",
        "",
        f"> {SEED_003}",
    ]
    for preset, rows in lfw.items():
        lines += [
            "",
            f"**LFW, {preset}**",
            "",
            "| method | " + " | ".join(f"{n} det / landmarks" for n in names) + " |",
        ]
        lines.append("|" + "---|" * (1 + len(names)))
        best = {n: max(r[n]["detection_rate"] for m, r in rows.items() if m != "clean") for n in names}
        for method, r in rows.items():
            cells = []
            for n in names:
                rate = f"{100 * r[n]['detection_rate']:.1f}"
                rate = f"**{rate}**" if method != "clean" and r[n]["detection_rate"] == best[n] else rate
                marks = r[n]["landmark_success"]
                cells.append(f"{rate} / {'-' if marks is None else f'{100 * marks:.1f}'}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", f"**Real low-light photos ({len(photos)}, no ground truth)**: faces found (images with a face)", ""]
    lines += ["| method | " + " | ".join(names) + " |", "|" + "---|" * (1 + len(names))]
    for method, r in real.items():
        cells = [f"{r[n]['faces']} ({r[n]['images_with_faces']})" for n in names]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
