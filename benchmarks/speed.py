"""Cost of every enhancer: parameters, GMACs, milliseconds per megapixel and peak memory, three image sizes,
one thread and all threads, on this machine in one run.

Usage:
    python benchmarks/speed.py --out benchmarks/results/speed.json

Each (method, size, threads) runs in a fresh subprocess so that its peak resident memory is its own; the
time is the best of ``--repeats`` runs after one warm-up on a small image. Networks run through
``lowface.Enhancer`` exactly as the CLI does (exact tiling for large images included).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common import provenance, write_results

from lowface.bench.speed import count_macs, measure

SIZES = {"600x400": (400, 600), "1080p": (1080, 1920), "4K": (2160, 3840), "8K": (4320, 7680)}
DEFAULT_SIZES = "600x400,1080p,4K"
METHODS = ["lowface", "lowface-fast", "lowface-restore", "lowface-auto", "zero-dce", "zero-dce++", "sci", "retinexnet"]
METHODS += ["identity", "gamma", "he", "clahe", "lime"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated, from {', '.join(SIZES)}")
    parser.add_argument("--threads", default=f"1,{os.cpu_count()}")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/speed.json"))
    args = parser.parse_args()

    from lowface.inference.catalogue import create_model

    methods, sizes = args.methods.split(","), args.sizes.split(",")
    thread_counts = sorted({int(t) for t in args.threads.split(",")})
    cost = {}
    for method in methods:
        model = create_model(method)
        params = sum(p.numel() for p in model.parameters())
        macs = count_macs(model, 400, 600)
        cost[method] = {
            "parameters": params,
            "gmacs": {s: None if macs is None else macs * (h * w) / (400 * 600) / 1e9 for s, (h, w) in SIZES.items()},
        }
    rows = []
    for method in methods:
        for size in sizes:
            for threads in thread_counts:
                repeats = 1 if method == "lowface" and size in ("4K", "8K") else args.repeats  # minutes a run
                row = {"size": size, **measure(method, *SIZES[size], threads, repeats)}
                rows.append(row)
                print(
                    f"{method:14s} {size:8s} {threads} thr  {row['ms_per_megapixel']:9.1f} ms/MP "
                    f"{row['peak_rss_mb']:8.0f} MB peak",
                    flush=True,
                )

    record = {
        **provenance(),
        "cost": cost,
        "timings": rows,
    }
    lines = [
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}. Time: best of "
        f"{args.repeats} (1 for lowface at 4K/8K); peak RSS of the whole process (model + image + work). Input: "
        f"uniform noise x 0.3 (a routed model's choice is shown in brackets; its params count both networks).",
        "",
        "| method | params | size | GFLOPs (2 x conv MACs) | threads | ms/MP | images/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        c = cost[row["method"]]
        gmacs = c["gmacs"][row["size"]]
        method = row["method"] + (f" (ran {' + '.join(row['routed_to'])})" if row.get("routed_to") else "")
        lines.append(
            f"| {method} | {c['parameters']:,} | {row['size']} | {'-' if gmacs is None else f'{2 * gmacs:.1f}'} "
            f"| {row['threads']} | {row['ms_per_megapixel']:.1f} | {row['images_per_second']:.2f} "
            f"| {row['peak_rss_mb']:.0f} |"
        )
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
