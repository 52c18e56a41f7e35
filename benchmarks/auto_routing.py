"""Which network does ``lowface-auto`` run? Its choices on the LFW pairs images under each synthesis preset.

    python benchmarks/auto_routing.py --data-root ../shared/data --pairs 6000 --out benchmarks/results/auto_routing.json

For every image of the first N pairs (all 7,701 images for 6,000 pairs), darkened exactly as
benchmarks/recognition.py darkens them (same preset, seed 0), and for the clean images and the real low-light
photos: the share the exposure gate leaves untouched (weight 0: no network runs), and among the rest the share
routed to lowface-restore (the others get lowface-fast). Where every image goes to lowface-restore, lowface-auto's
output is lowface-restore's (up to floating-point rounding between runs), and so are its recognition figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from common import provenance, write_results
from tqdm import tqdm

from lowface.bench.faces import PairsSet
from lowface.data.lowlight import real_lowlight_photos
from lowface.data.synth import iter_synthesize
from lowface.inference.gate import shipped_gate
from lowface.inference.routing import shipped_router
from lowface.io import image_to_tensor, read_image

PRESETS = "x0.15-noise0.02,physical-1,physical-3,physical-10,linear,linear-dark,gamma-noise,gamma-noise-strong"


def choices(images, total: int, desc: str) -> dict:
    """Gate weight and router probability of each (H, W, 3) image -> the shares, over ``total`` images."""
    gate, router = shipped_gate(), shipped_router()
    gated_off = restore = 0
    probabilities = []
    for image in tqdm(images, total=total, desc=desc, unit="img", leave=False):
        x = image_to_tensor(np.asarray(image, np.float32))
        probability = float(router.probability(x))
        probabilities.append(probability)
        if float(gate.weight(x)) == 0:
            gated_off += 1
        elif probability > 0.5:
            restore += 1
    enhanced = total - gated_off
    return {
        "images": total,
        "gate_leaves_untouched": gated_off / total,
        "restore_share_of_enhanced": restore / enhanced if enhanced else None,
        "fast_share_of_enhanced": (enhanced - restore) / enhanced if enhanced else None,
        "router_probability_median": float(np.median(probabilities)),
    }


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--presets", default=PRESETS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/auto_routing.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    lfw = PairsSet.load(args.data_root, args.pairs)
    total = len(lfw.clean)
    results = {"clean": choices(lfw.clean, total, "clean")}
    for preset in args.presets.split(","):
        results[preset] = choices((dark for dark, _ in iter_synthesize(lfw.clean, preset, seed=0)), total, preset)
        print(preset, results[preset], flush=True)
    real = real_lowlight_photos(args.data_root)
    results["real low-light photos"] = choices((read_image(p).rgb for p in real), len(real), "real")

    frame = torch.rand(1, 3, 1080, 1920, generator=torch.Generator().manual_seed(0))
    shipped_router().probability(frame)  # warm-up
    start = time.perf_counter()
    for _ in range(10):
        shipped_router().probability(frame)
    router_ms = (time.perf_counter() - start) / 10 * 1000
    record = {
        **provenance(args.threads),
        "pairs": len(lfw.pairs),
        "images": total,
        "router_ms_per_1080p_frame": router_ms,
        "results": results,
    }
    lines = [
        f"lowface-auto's choices on the {total} images of the first {len(lfw.pairs)} LFW pairs (darkened as "
        f"benchmarks/recognition.py darkens them: same presets, seed 0), the clean images and the "
        f"{len(real)} real low-light photos of ../shared/data/lowlight_real. Command: `{record['command']}`, "
        f"{record['date']}, {record['machine']}.",
        "",
        f"The router's own cost (noise estimate + brightness statistics + logistic model): {router_ms:.1f} ms per "
        f"1920x1080 frame on {args.threads} thread(s), on top of the network it picks.",
        "",
        "| input | images | left untouched by the gate | of the rest: lowface-restore | lowface-fast |",
        "|---|---|---|---|---|",
    ]
    for name, row in results.items():
        lines.append(
            f"| {name} | {row['images']} | {pct(row['gate_leaves_untouched'])} | "
            f"{pct(row['restore_share_of_enhanced'])} | {pct(row['fast_share_of_enhanced'])} |"
        )
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
