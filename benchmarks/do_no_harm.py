"""Do-no-harm: what enhancement does to images that need none, with and without the exposure gate.

Usage:
    python benchmarks/do_no_harm.py --data-root ../shared/data --pairs 600 \
        --inputs clean,linear,x0.15-noise0.02 --methods lowface-fast,lowface-restore \
        --out benchmarks/results/do_no_harm.json

For the images of the first N LFW pairs, untouched ("clean") or darkened by a preset (as in
benchmarks/recognition.py, seed 0, sharing its cache), each method's raw output and its gated output
x + w (enhanced - x) (lowface.inference.gate). Reports the gate weight, PSNR of the output against its INPUT (how much
was changed: on clean inputs the promise is > 35 dB) and 10-fold verification accuracy with both judges
(alignment from the clean image). On clean inputs the promise is accuracy no lower than untouched; on dark
inputs that the gate costs nothing against the raw model.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
from pathlib import Path

import numpy as np
import torch
from common import provenance, write_results
from recognition import parse_method
from tqdm import tqdm

from lowface.bench.faces import cached_embed
from lowface.bench.methods import method_images
from lowface.data.lfw import lfw_image_path, lfw_pairs
from lowface.data.synth import synthesize
from lowface.face.pipeline import RecognitionPipeline
from lowface.inference.batch import FrameEnhancer
from lowface.inference.enhancer import Enhancer
from lowface.inference.gate import ExposureGate, gate_fingerprint, shipped_gate
from lowface.io import image_to_tensor, read_image
from lowface.metrics.face import verification_accuracy
from lowface.metrics.fidelity import psnr


def as_float(images: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(im, np.float32) / (255.0 if im.dtype == np.uint8 else 1.0) for im in images]


def gated(gate: ExposureGate, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> tuple[list, np.ndarray]:
    """x + w (y - x) per image, quantised to 8 bits like every output; and the weights (N,)."""
    results, weights = [], []
    for x, y in zip(inputs, outputs, strict=True):
        tx, ty = image_to_tensor(x), image_to_tensor(y)
        w = gate.weight(tx)
        blended = gate.blend(tx, ty, w)[0].permute(1, 2, 0).numpy()
        results.append(np.round(np.clip(blended, 0, 1) * 255) / 255.0)
        weights.append(float(w))
    return [r.astype(np.float32) for r in results], np.array(weights)


def psnr_to(images: list[np.ndarray], references: list[np.ndarray]) -> np.ndarray:
    """Per-image PSNR (dB, RGB, data range 1); identical images give inf."""
    x = torch.cat([image_to_tensor(im) for im in images])
    y = torch.cat([image_to_tensor(im) for im in references])
    return psnr(x, y).numpy()


def flicker(methods: list[str], still: np.ndarray, frames: int, noise: float, seed: int = 0,
            temporal: float = 8.0) -> dict:  # fmt: skip
    """A static clip: one dark still + fresh Gaussian sensor noise per frame, enhanced frame by frame as the
    video path does it (lowface.inference.batch.FrameEnhancer: gate and network choice smoothed over
    frames), without and with temporal noise reduction (``temporal`` frames, as
    ``--temporal-denoise``). Per sequence: mean absolute frame-to-frame difference, the standard deviation of the
    frame's mean brightness over time (flicker), and the mean absolute difference to the same processing of
    the noise-free still (how far the noise takes it), over the second half of the clip."""
    rng = np.random.default_rng(seed)
    clip = [np.clip(still + rng.normal(0, noise, still.shape), 0, 1).astype(np.float32) for _ in range(frames)]

    def stats(sequence: list[np.ndarray], reference: np.ndarray) -> dict[str, float]:
        steps = [float(np.abs(b - a).mean()) for a, b in itertools.pairwise(sequence)]
        return {
            "frame_difference": float(np.mean(steps)),
            "brightness_std": float(np.std([f.mean() for f in sequence])),
            "error_to_noise_free": float(np.mean([np.abs(f - reference).mean() for f in sequence[len(steps) // 2 :]])),
        }

    results = {"input": stats(clip, still)}
    for spec in methods:
        label, name, weights = parse_method(spec)
        enhancer = Enhancer.from_pretrained(name, weights=weights, device="cpu", gate=True)
        reference = FrameEnhancer(enhancer)(image_to_tensor(still))[0].permute(1, 2, 0).numpy()
        for suffix, frames_averaged in (("", None), (f" + temporal {temporal:g}", temporal)):
            stream = FrameEnhancer(enhancer, frames_averaged)
            out = []
            for frame in tqdm(clip, desc=f"flicker {label}{suffix}", unit="frame", leave=False):
                out.append(stream(image_to_tensor(frame))[0].permute(1, 2, 0).numpy())
            results[label + suffix] = stats(out, reference)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--inputs", default="clean,linear,x0.15-noise0.02", help="clean and/or synthesis presets")
    parser.add_argument("--methods", default="lowface-fast,lowface-restore")
    parser.add_argument("--judges", default="facenet,dlib")
    parser.add_argument("--flicker-frames", type=int, default=60, help="static-clip length (0: skip)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/bench-cache"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/do_no_harm.json"))
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
    alignments = {name: [j.align(image_to_tensor(im)[0]) for im in tqdm(clean, desc=f"align {name}")]
                  for name, j in judges.items()}  # fmt: skip
    key_all = hashlib.sha256(f"{keys}".encode()).hexdigest()[:8]
    gate = shipped_gate()
    gated_tag = f"gated-{gate_fingerprint()[:8]}"  # a refitted gate: other gated outputs, other cached embeddings

    def accuracy(images: list[np.ndarray], source: str) -> dict[str, float]:
        out = {}
        for name, judge in judges.items():
            cache = args.cache_dir / f"emb-{source}-{name}-{key_all}.npy"
            vectors = cached_embed(judge, images, alignments[name], cache)
            scores = np.array([float(vectors[index[p.first]] @ vectors[index[p.second]]) for p in pairs])
            out[name] = verification_accuracy(scores, same, folds).accuracy
        return out

    results: dict = {}
    for preset in args.inputs.split(","):
        inputs = clean if preset == "clean" else as_float(synthesize(clean, preset, seed=0)[0])
        results[preset] = {
            "untouched": {"accuracy": accuracy(inputs, "clean" if preset == "clean" else f"none-{preset}")}
        }
        for spec in args.methods.split(","):
            label = parse_method(spec)[0]
            raw, _, source = method_images(spec, preset, clean, inputs, args.pairs, args.cache_dir)
            raw = as_float(raw)
            blended, weights = gated(gate, inputs, raw)
            identical_to_raw = bool(np.all(weights == 1.0))
            gated_source = f"{source}-{gated_tag}"
            row = {"gate_weight_mean": float(weights.mean()), "gate_weight_zero_share": float(np.mean(weights == 0))}
            for variant, images in (("raw", raw), ("gated", blended)):
                changed = psnr_to(images, inputs)
                finite = np.where(np.isfinite(changed), changed, 100.0)  # unchanged images: counted as 100 dB
                row[variant] = {
                    "psnr_to_input_median": float(np.median(finite)),
                    "psnr_to_input_share_above_35": float(np.mean(changed > 35)),
                    "accuracy": accuracy(images, source if variant == "raw" or identical_to_raw else gated_source),
                }
            results[preset][label] = row
            accs = {v: {j: f"{100 * row[v]['accuracy'][j]:.2f}" for j in judges} for v in ("raw", "gated")}
            print(preset, label, f"w {row['gate_weight_mean']:.3f}", accs, flush=True)

    still = clean[0] * 0.15
    noise = 0.02
    static = flicker(args.methods.split(","), still, args.flicker_frames, noise) if args.flicker_frames else {}
    record = {**provenance(args.threads), "pairs": len(pairs), "images": len(keys), "results": results,
              "flicker": static}  # fmt: skip
    names = list(judges)
    lines = [
        f"Do-no-harm on the {len(keys)} images of the first {len(pairs)} LFW pairs: raw model output vs. the "
        "exposure-gated output. PSNR to the INPUT (median over images; unchanged images count as 100 dB) and the "
        "share of images above 35 dB; 10-fold verification accuracy (%). "
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}.",
    ]
    for preset, rows in results.items():
        lines += ["", f"**input: {preset}** (untouched: " + ", ".join(
            f"{j} {100 * rows['untouched']['accuracy'][j]:.2f}" for j in names) + ")", ""]  # fmt: skip
        lines += ["| method | mean gate w | variant | PSNR to input | > 35 dB | " + " | ".join(names) + " |"]
        lines.append("|" + "---|" * (5 + len(names)))
        for method, row in rows.items():
            if method == "untouched":
                continue
            for variant in ("raw", "gated"):
                r = row[variant]
                cells = [f"{100 * r['accuracy'][j]:.2f}" for j in names]
                lines.append(
                    f"| {method} | {row['gate_weight_mean']:.3f} | {variant} | {r['psnr_to_input_median']:.1f} | "
                    f"{100 * r['psnr_to_input_share_above_35']:.1f}% | " + " | ".join(cells) + " |"
                )
    if static:
        lines += ["", f"**Static clip** ({args.flicker_frames} frames of one LFW still x0.15 with fresh Gaussian noise "
                  f"{noise} per frame; the video path, gate smoothed over frames; '+ temporal': with "
                  "`--temporal-denoise`)", ""]  # fmt: skip
        lines += ["| sequence | mean frame-to-frame difference | std of frame brightness | difference to the "
                  "noise-free result |", "|---|---|---|---|"]  # fmt: skip
        for label, r in static.items():
            cells = f"{r['frame_difference']:.4f} | {r['brightness_std']:.5f} | {r['error_to_noise_free']:.4f}"
            lines.append(f"| {label} | {cells} |")
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
