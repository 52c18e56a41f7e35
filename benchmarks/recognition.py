"""Does enhancement help face recognition? LFW verification clean / dark / enhanced, judged by both recognizers.

Usage:
    python benchmarks/recognition.py --data-root ../shared/data --pairs 600 \
        --presets linear,gamma-noise --out benchmarks/results/recognition.json
    python benchmarks/recognition.py --methods none,gamma,new=lowface-fast:runs/lowface-fast/model.safetensors

Protocol: the first N pairs of pairs.txt (600 = official fold 1, split into 10 interleaved parts for the
10-fold protocol; --first-pair 600 takes fold 2 instead, to choose between models without looking at fold 1),
each image darkened with a synthesis preset (seed 0; Algorithm 1 presets over the set of
these images), then enhanced by each method. Faces are aligned ONCE on the clean image by each judge's own
detector (MTCNN for FaceNet, dlib HOG for dlib; a centred fallback crop when none is found) and that
alignment is applied to the dark and enhanced versions, so the figures measure recognition, not detection.
"clean" and "none" bound the range. PSNR / SSIM: RGB, data range 1, Gaussian-window SSIM (sigma 1.5), on
the whole 250x250 image against the clean one. Recovery = (enhanced - dark) / (clean - dark) accuracy.
Enhanced images, embeddings and PSNR / SSIM are cached per (method, preset) under --cache-dir, so an interrupted
run resumes and adding a method costs little more than that method.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import torch
from common import provenance, write_results

from lowface.bench.cache import cached_row
from lowface.bench.faces import PairsSet, cached_alignments, cached_embed, paired_gain, verification
from lowface.bench.methods import MethodSpec, method_images
from lowface.bench.rows import mean_fidelity
from lowface.data.synth import synthesize_float32
from lowface.face.pipeline import RecognitionPipeline

DEFAULT_METHODS = "clean,none,gamma,he,clahe,lime,zero-dce,zero-dce++,sci,retinexnet,lowface,lowface-fast"


def parse_method(spec: str) -> tuple[str, str, str | None]:
    """ "name" or "label=name:weights.safetensors" -> (label, model name, weights path or None)."""
    method = MethodSpec.parse(spec)
    return method.label, method.name, method.weights


def fidelity_row(images: list, clean: list, seconds: float) -> dict:
    """Mean PSNR / SSIM of a method's images against the clean ones, and its seconds per image."""
    return {**mean_fidelity(images, clean, max_psnr=None), "seconds_per_image": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pairs", type=int, default=600, help="use N pairs of pairs.txt")
    parser.add_argument(
        "--first-pair", type=int, default=0, help="start at this pair (600: official fold 2, a validation set)"
    )
    parser.add_argument("--presets", default="linear,gamma-noise")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help="names, or label=name:weights.safetensors")
    parser.add_argument("--judges", default="facenet,dlib")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/bench-cache"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/recognition.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.cache_dir.mkdir(parents=True, exist_ok=True)

    lfw = PairsSet.load(args.data_root, args.pairs, start=args.first_pair)
    pairs, keys, clean = lfw.pairs, lfw.keys, lfw.clean
    judges = {name: RecognitionPipeline(name).eval() for name in args.judges.split(",")}
    alignments = {name: cached_alignments(pipeline, lfw, args.cache_dir) for name, pipeline in judges.items()}

    results: dict = {}
    for preset in args.presets.split(","):
        dark = synthesize_float32(clean, preset, seed=0)
        results[preset] = {}
        for spec in args.methods.split(","):
            label = parse_method(spec)[0]
            images, seconds, source = method_images(spec, preset, clean, dark, lfw.protocol, args.cache_dir)
            fidelity = partial(fidelity_row, images, clean, seconds)  # SSIM: about a minute a method
            row = cached_row(args.cache_dir / f"fidelity-{source}-{lfw.tag}.json", fidelity)
            for judge, pipeline in judges.items():
                vectors = cached_embed(
                    pipeline, images, alignments[judge], args.cache_dir / f"emb-{source}-{judge}-{lfw.tag}.npy"
                )
                row[judge] = verification(lfw, vectors)
            results[preset][label] = row
            accs = "  ".join(f"{j} {100 * row[j]['accuracy']:.2f}" for j in judges)
            print(f"{preset:14s} {label:14s} PSNR {row['psnr']:.2f} SSIM {row['ssim']:.3f}  {accs}", flush=True)
        for row in results[preset].values():
            for judge in judges:
                low, high = results[preset]["none"][judge]["accuracy"], results[preset]["clean"][judge]["accuracy"]
                gap = high - low  # below one point (6 pairs of 600) a share of it is noise, not a measurement
                row[judge]["recovery"] = (row[judge]["accuracy"] - low) / gap if gap >= 0.01 else None
                row[judge]["gain_over_none"] = paired_gain(row[judge], results[preset]["none"][judge])

    record = {
        **provenance(args.threads),
        "pairs": len(pairs),
        "first_pair": args.first_pair,
        "images": len(keys),
        "results": results,
    }
    last = args.first_pair + len(pairs)
    which = f"the first {len(pairs)} pairs" if args.first_pair == 0 else f"pairs {args.first_pair + 1}-{last}"
    lines = [
        f"LFW verification on {which} ({len(keys)} images), {len(set(lfw.folds()))}-fold accuracy (%) +- std "
        f"over folds, recovery = share of the dark-to-clean gap won back "
        f"(shown where that gap is at least 1 point); gain = per-fold accuracy minus the dark input's on the "
        f"same fold: mean +- std over folds (folds better / worse). Alignment from the clean image. "
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}.",
    ]
    for preset, rows in results.items():
        lines += ["", f"**{preset}**", ""]
        header = "| method | PSNR | SSIM | " + " | ".join(f"{j} acc | {j} recovery | {j} gain" for j in judges)
        lines += [header + " |", "|" + "---|" * (3 + 3 * len(judges))]
        best = {j: max(r[j]["accuracy"] for m, r in rows.items() if m != "clean") for j in judges}
        for method, r in rows.items():
            cells = []
            for j in judges:
                acc = f"{100 * r[j]['accuracy']:.2f} +- {100 * r[j]['std']:.2f}"
                acc = f"**{acc}**" if method != "clean" and r[j]["accuracy"] == best[j] else acc
                recovery = r[j].get("recovery")
                cells += [acc, "-" if recovery is None or method in ("clean", "none") else f"{100 * recovery:.0f}%"]
                gain = r[j]["gain_over_none"]
                cells.append(
                    "-"
                    if method == "none"
                    else f"{100 * gain['mean']:+.2f} +- {100 * gain['std']:.2f} ({gain['better']}/{gain['worse']})"
                )
            lines.append(f"| {method} | {r['psnr']:.2f} | {r['ssim']:.3f} | " + " | ".join(cells) + " |")
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
