"""PSNR / SSIM of every enhancer on darkened LFW test-pair faces (identities never seen in training).

Usage:
    python benchmarks/quality.py --data-root ../shared/data --limit 200 --out benchmarks/results/quality.json

Two synthetic presets, both Algorithm 1 linear darkening (seeded, 8-bit quantised): "linear" with the
official ratio interval 0.35-0.45, and "linear-dark" with 0.10-0.20. PSNR and SSIM on RGB, data range 1
(see lowface.metrics.fidelity). Writes JSON and a markdown table next to it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from common import provenance, write_results

from lowface.bench.methods import pretrained
from lowface.data.synth import darken_linear, plan_linear_darkening
from lowface.io import image_to_tensor, read_image
from lowface.metrics.fidelity import psnr, ssim

PRESETS = {"linear": (0.35, 0.45), "linear-dark": (0.10, 0.20)}
METHODS = ["identity", "gamma", "he", "clahe", "lime", "zero-dce", "zero-dce++", "sci", "retinexnet"]
METHODS += ["lowface", "lowface-fast"]


def test_faces(data_root: Path, limit: int) -> list[np.ndarray]:
    names = (data_root / "lfw" / "pairs_unique_images.txt").read_text().split()
    chosen = names[:: max(1, len(names) // limit)][:limit]
    return [read_image(data_root / "lfw" / "lfw-deepfunneled" / n).rgb for n in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/quality.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    faces = test_faces(args.data_root, args.limit)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for preset, ratio_range in PRESETS.items():
        plan = plan_linear_darkening(faces, ratio_range, seed=0)
        dark = [darken_linear(faces[i], r).astype(np.float32) for i, r in zip(plan.kept, plan.ratios, strict=True)]
        clean = [faces[i] for i in plan.kept]
        results[preset] = {}
        for method in args.methods.split(","):
            enhancer = pretrained(method)
            scores_psnr, scores_ssim, start = [], [], time.perf_counter()
            for low, ref in zip(dark, clean, strict=True):
                out = enhancer.enhance_tensor(image_to_tensor(low))
                target = image_to_tensor(ref)
                scores_psnr.append(psnr(out, target).item())
                scores_ssim.append(ssim(out, target).item())
            results[preset][method] = {
                "psnr": float(np.mean(scores_psnr)),
                "psnr_std": float(np.std(scores_psnr)),
                "ssim": float(np.mean(scores_ssim)),
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(f"{preset:12s} {method:14s} PSNR {np.mean(scores_psnr):6.2f}  SSIM {np.mean(scores_ssim):.3f}")

    record = {
        **provenance(torch.get_num_threads()),
        "images": len(faces),
        "presets": {k: list(v) for k, v in PRESETS.items()},
        "results": results,
    }
    lines = [
        f"Darkened LFW test-pair faces ({len(faces)} images), PSNR (dB) / SSIM against the clean image.",
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}.",
        "",
        "| method | " + " | ".join(f"{p} PSNR | {p} SSIM" for p in PRESETS) + " |",
        "|---" * (1 + 2 * len(PRESETS)) + "|",
    ]
    best = {p: max(results[p].values(), key=lambda r: r["psnr"])["psnr"] for p in PRESETS}
    for method in results[next(iter(PRESETS))]:
        cells = []
        for p in PRESETS:
            r = results[p][method]
            value = f"{r['psnr']:.2f}"
            cells += [f"**{value}**" if r["psnr"] == best[p] else value, f"{r['ssim']:.3f}"]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
