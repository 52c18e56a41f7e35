"""Does enhancement help face recognition? LFW verification clean / dark / enhanced, judged by both recognizers.

Usage:
    python benchmarks/recognition.py --data-root ../shared/data --pairs 600 \
        --presets linear,gamma-noise --out benchmarks/results/recognition.json
    python benchmarks/recognition.py --methods none,gamma,new=lowface-fast:runs/lowface-fast/model.safetensors

Protocol: the first N pairs of pairs.txt (600 = official fold 1, split into 10 interleaved parts for the
10-fold protocol), each image darkened with a synthesis preset (seed 0; Algorithm 1 presets over the set of
these images), then enhanced by each method. Faces are aligned ONCE on the clean image by each judge's own
detector (MTCNN for FaceNet, dlib HOG for dlib; a centred fallback crop when none is found) and that
alignment is applied to the dark and enhanced versions, so the figures measure recognition, not detection.
"clean" and "none" bound the range. PSNR / SSIM: RGB, data range 1, Gaussian-window SSIM (sigma 1.5), on
the whole 250x250 image against the clean one. Recovery = (enhanced - dark) / (clean - dark) accuracy.
Enhanced images are cached per (method, preset) under --cache-dir, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import time
from pathlib import Path

import numpy as np
import torch
from common import provenance, write_results
from tqdm import tqdm

from lowface.api import Enhancer
from lowface.data.lfw import lfw_image_path, lfw_pairs
from lowface.data.synth import synthesize
from lowface.face.pipeline import Alignment, RecognitionPipeline
from lowface.io import atomic_write_bytes, image_to_tensor, read_image
from lowface.metrics.face import tar_at_far, verification_accuracy
from lowface.metrics.fidelity import psnr, ssim
from lowface.pretrained import model_card, sha256_file

DEFAULT_METHODS = "clean,none,gamma,he,clahe,lime,zero-dce,zero-dce++,sci,retinexnet,lowface,lowface-fast"


def parse_method(spec: str) -> tuple[str, str, str | None]:
    """ "name" or "label=name:weights.safetensors" -> (label, model name, weights path or None)."""
    label, _, rest = spec.partition("=") if "=" in spec else (spec, "", spec)
    name, _, weights = rest.partition(":")
    return label, name, weights or None


def weights_id(name: str, weights: str | None) -> str:
    """The sha256 of the weights a method runs with ("" for methods without weights): part of the cache key."""
    if weights is not None:
        return sha256_file(weights)
    return model_card(name).sha256 or ""


def cached_enhance(method: str, weights: str | None, dark: list[np.ndarray], cache: Path) -> tuple[list, float]:
    """Enhanced images (uint8 arrays) and seconds per image; read from / written to ``cache`` (.npz)."""
    if cache.exists():
        with np.load(cache, allow_pickle=False) as stored:
            return [stored[str(i)] for i in range(len(dark))], float(stored["seconds"])
    enhancer = Enhancer.from_pretrained(method, weights=weights, device="cpu")
    out, start = [], time.perf_counter()
    for image in tqdm(dark, desc=cache.stem, unit="img", leave=False):
        out.append(np.round(enhancer.enhance(image) * 255).astype(np.uint8))
    seconds = (time.perf_counter() - start) / len(dark)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, seconds=np.array(seconds), **{str(i): im for i, im in enumerate(out)})
    atomic_write_bytes(cache, buffer.getvalue())
    return out, seconds


def method_images(spec: str, preset: str, clean: list, dark: list, pairs: int, cache_dir: Path) -> tuple:
    """(images, seconds per image, cache tag) of one method on one preset: the clean or dark images themselves,
    or the method's enhanced dark images (cached under ``cache_dir``, shared by every benchmark)."""
    label, name, weights = parse_method(spec)
    if name == "clean":
        return clean, 0.0, "clean"
    if name == "none":
        return dark, 0.0, f"none-{preset}"
    tag = hashlib.sha256(f"{spec}{pairs}{weights_id(name, weights)}".encode()).hexdigest()[:8]
    images, seconds = cached_enhance(name, weights, dark, cache_dir / f"{label}-{preset}-{tag}.npz")
    return images, seconds, f"{label}-{preset}-{tag}"


def embed(pipeline: RecognitionPipeline, images: list[np.ndarray], alignments: list, batch: int = 32) -> np.ndarray:
    """(N,) images (uint8 or float) with their clean-image alignments -> (N, D) unit embeddings."""
    vectors = []
    for start in range(0, len(images), batch):
        chunk = [image_to_tensor(np.asarray(im, np.float32) / (255.0 if im.dtype == np.uint8 else 1.0))[0]
                 for im in images[start : start + batch]]  # fmt: skip
        with torch.inference_mode():
            vectors.append(pipeline.embed(torch.stack(chunk), alignments[start : start + batch]).numpy())
    return np.concatenate(vectors)


def fidelity(images: list[np.ndarray], references: list[np.ndarray], batch: int = 64) -> dict[str, float]:
    """Mean PSNR and SSIM of float (H, W, 3) images against their references."""
    values: dict[str, list] = {"psnr": [], "ssim": []}
    for start in range(0, len(images), batch):
        x = torch.cat([image_to_tensor(im) for im in images[start : start + batch]])
        y = torch.cat([image_to_tensor(im) for im in references[start : start + batch]])
        values["psnr"] += psnr(x, y).tolist()
        values["ssim"] += ssim(x, y).tolist()
    return {name: float(np.mean(v)) for name, v in values.items()}


def cached_embed(pipeline: RecognitionPipeline, images: list, alignments: list, cache: Path) -> np.ndarray:
    if cache.exists():
        return np.load(cache)
    vectors = embed(pipeline, images, alignments)
    buffer = io.BytesIO()
    np.save(buffer, vectors)
    atomic_write_bytes(cache, buffer.getvalue())
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pairs", type=int, default=600, help="use the first N pairs of pairs.txt")
    parser.add_argument("--presets", default="linear,gamma-noise")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help="names, or label=name:weights.safetensors")
    parser.add_argument("--judges", default="facenet,dlib")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/bench-cache"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/recognition.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.cache_dir.mkdir(parents=True, exist_ok=True)

    pairs = lfw_pairs(args.data_root)[: args.pairs]
    keys = sorted({p.first for p in pairs} | {p.second for p in pairs})
    index = {key: i for i, key in enumerate(keys)}
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    if len(np.unique(folds)) < 2:
        folds = np.arange(len(pairs)) % 10
    clean = [read_image(lfw_image_path(args.data_root, *key)).rgb for key in tqdm(keys, desc="reading", unit="img")]
    judges = {name: RecognitionPipeline(name).eval() for name in args.judges.split(",")}
    alignments = {}
    for name, pipeline in judges.items():
        key = hashlib.sha256(f"{name}{keys}".encode()).hexdigest()[:12]
        cache = args.cache_dir / f"align-{name}-{key}.pt"
        cache = cache.with_suffix(".npz")
        if not cache.exists():
            found = [pipeline.align(image_to_tensor(im)[0]) for im in tqdm(clean, desc=f"align {name}")]
            buffer = io.BytesIO()
            np.savez(buffer, transforms=np.stack([a.transform for a in found]), detected=[a.detected for a in found])
            atomic_write_bytes(cache, buffer.getvalue())
        with np.load(cache) as stored:
            alignments[name] = [
                Alignment(t, bool(d)) for t, d in zip(stored["transforms"], stored["detected"], strict=True)
            ]

    key_all = hashlib.sha256(f"{keys}".encode()).hexdigest()[:8]
    results: dict = {}
    for preset in args.presets.split(","):
        dark, _ = synthesize(clean, preset, seed=0)
        dark = [d.astype(np.float32) for d in dark]
        results[preset] = {}
        for spec in args.methods.split(","):
            label = parse_method(spec)[0]
            images, seconds, source = method_images(spec, preset, clean, dark, args.pairs, args.cache_dir)
            floats = [np.asarray(im, np.float32) / (255.0 if im.dtype == np.uint8 else 1.0) for im in images]
            row = {**fidelity(floats, clean), "seconds_per_image": seconds}
            for judge, pipeline in judges.items():
                vectors = cached_embed(
                    pipeline, floats, alignments[judge], args.cache_dir / f"emb-{source}-{judge}-{key_all}.npy"
                )
                scores = np.array([float(vectors[index[p.first]] @ vectors[index[p.second]]) for p in pairs])
                verification = verification_accuracy(scores, same, folds)
                row[judge] = {
                    "accuracy": verification.accuracy,
                    "std": verification.std,
                    "tar_at_far_1e-3": tar_at_far(scores, same, 1e-3),
                }
            results[preset][label] = row
            accs = "  ".join(f"{j} {100 * row[j]['accuracy']:.2f}" for j in judges)
            print(f"{preset:14s} {label:14s} PSNR {row['psnr']:.2f} SSIM {row['ssim']:.3f}  {accs}", flush=True)
        for row in results[preset].values():
            for judge in judges:
                low, high = results[preset]["none"][judge]["accuracy"], results[preset]["clean"][judge]["accuracy"]
                gap = high - low  # below one point (6 pairs of 600) a share of it is noise, not a measurement
                row[judge]["recovery"] = (row[judge]["accuracy"] - low) / gap if gap >= 0.01 else None

    record = {**provenance(args.threads), "pairs": len(pairs), "images": len(keys), "results": results}
    lines = [
        f"LFW verification on the first {len(pairs)} pairs ({len(keys)} images), 10-fold accuracy (%) +- std "
        f"over folds, recovery = share of the dark-to-clean gap won back "
        f"(shown where that gap is at least 1 point). Alignment from the clean image. "
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}.",
    ]
    for preset, rows in results.items():
        lines += ["", f"**{preset}**", ""]
        header = "| method | PSNR | SSIM | " + " | ".join(f"{j} acc | {j} recovery" for j in judges) + " |"
        lines += [header, "|" + "---|" * (3 + 2 * len(judges))]
        best = {j: max(r[j]["accuracy"] for m, r in rows.items() if m != "clean") for j in judges}
        for method, r in rows.items():
            cells = []
            for j in judges:
                acc = f"{100 * r[j]['accuracy']:.2f} +- {100 * r[j]['std']:.2f}"
                acc = f"**{acc}**" if method != "clean" and r[j]["accuracy"] == best[j] else acc
                recovery = r[j].get("recovery")
                cells += [acc, "-" if recovery is None or method in ("clean", "none") else f"{100 * recovery:.0f}%"]
            lines.append(f"| {method} | {r['psnr']:.2f} | {r['ssim']:.3f} | " + " | ".join(cells) + " |")
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
