"""Cost of every enhancer side by side: parameters, GMACs, seconds per image, ratio to the faithful Zero-DCE++, peak
memory; several image sizes, one thread and all threads, on this machine in one run.

Usage:
    python benchmarks/speed.py --out benchmarks/results/speed.json
    python benchmarks/speed.py --sizes 1080p --methods zero-dce++-x12,sci,lowface-fast,lowface-restore \
        --out benchmarks/results/speed_1080p.json

Fair order: every (method, size, threads) is measured in a fresh subprocess (its peak resident memory is its
own; one warm-up run at the timed size first, on a 128 x 128 crop where only one run is timed), and the
measurements are interleaved - round after round, every method once per round - so that a slow phase of the
machine hits every method alike. A row's time is the best
over all rounds and repeats, its spread the median. The reference (``--reference``, default ``zero-dce++-x12``:
Zero-DCE++ as its authors run it, curves estimated at 1/12 resolution) gives the ratio column. Networks run
through ``lowface.Enhancer`` exactly as the CLI does (exact tiling for large images included), gate off.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from common import provenance, write_results

from lowface.bench.methods import split_precision
from lowface.bench.speed import count_macs, measure

SIZES = {"600x400": (400, 600), "1080p": (1080, 1920), "4K": (2160, 3840), "8K": (4320, 7680)}
DEFAULT_SIZES = "600x400,1080p,4K"
METHODS = ["zero-dce++-x12", "zero-dce++", "zero-dce", "sci", "lowface-fast", "lowface-restore", "lowface-auto"]
METHODS += ["lowface", "retinexnet", "identity", "gamma", "he", "clahe", "lime"]
SLOW = {"lowface", "retinexnet", "lime"}  # seconds to minutes per large image: one repeat there


def cost_of(method: str) -> dict:
    """Parameters and conv GMACs per size (None for methods without convolutions)."""
    from lowface.inference.catalogue import create_model

    model = create_model(split_precision(method)[0])
    macs = count_macs(model, 400, 600)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "gmacs": {s: None if macs is None else macs * (h * w) / (400 * 600) / 1e9 for s, (h, w) in SIZES.items()},
        "gmacs_1200x900": None if macs is None else count_macs(model, 900, 1200) / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated, from {', '.join(SIZES)}")
    parser.add_argument("--threads", default=f"1,{os.cpu_count()}")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (each method once per round)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per measurement process")
    parser.add_argument("--reference", default="zero-dce++-x12")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/speed.json"))
    args = parser.parse_args()

    methods, sizes = args.methods.split(","), args.sizes.split(",")
    thread_counts = sorted({int(t) for t in args.threads.split(",")})
    cost = {method: cost_of(method) for method in methods}
    runs: dict[tuple[str, str, int], list[dict]] = {}
    for round_number in range(args.rounds):
        for size in sizes:
            for threads in thread_counts:
                for method in methods:
                    big = size in ("4K", "8K") or (size == "1080p" and method == "lowface")
                    repeats = 1 if method in SLOW and big else args.repeats
                    if round_number and method in SLOW and big:
                        continue  # minutes a run: one round is enough to place them
                    row = measure(method, *SIZES[size], threads, repeats)
                    runs.setdefault((method, size, threads), []).append(row)
                    print(f"round {round_number + 1} {method:16s} {size:8s} {threads} thr {row['seconds']:8.3f} s "
                          f"{row['peak_rss_mb']:6.0f} MB", flush=True)  # fmt: skip
    rows = []
    for (_method, size, _threads), measured in runs.items():
        best = min(measured, key=lambda r: r["seconds"])
        median = statistics.median(r["seconds"] for r in measured)
        peak = max(r["peak_rss_mb"] for r in measured)
        count = len(measured)
        rows.append({**best, "size": size, "median_seconds": median, "measurements": count, "peak_rss_mb": peak})
    reference = {(r["size"], r["threads"]): r["seconds"] for r in rows if r["method"] == args.reference}
    for row in rows:
        base = reference.get((row["size"], row["threads"]))
        row["ratio_to_reference"] = row["seconds"] / base if base else None

    record = {**provenance(), "reference": args.reference, "rounds": args.rounds, "cost": cost, "timings": rows}
    lines = [
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}. Each (method, size, threads) in its "
        f"own process, {args.rounds} interleaved round(s) x {args.repeats} timed run(s) after a warm-up run at "
        f"the same size (1 timed run after a 128 x 128 warm-up for {', '.join(sorted(SLOW))} at 4K and up); "
        f"time = best, median beside it; ratio = time / "
        f"{args.reference}'s at the same size and threads; peak RSS of the whole process. Input: uniform noise "
        "x 0.3; gate off (a routed model's choice in brackets; its params count both networks). GMACs: "
        "convolution multiply-accumulates of one forward pass (2 FLOPs each). Precision: of the restoring networks' "
        "convolutions (`auto`: int8 on x86 CPUs without AMX - the restoring U-Net in int8 and, with VNNI, its "
        "illumination estimator, the rest in bfloat16 where native, else float32 -, bfloat16 on CPUs with AMX, else "
        "float32; only lowface's networks use it).",
        "",
        f"| method | params | size | GMACs | precision | threads | s / image | median s | x {args.reference} "
        "| images/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: (list(SIZES).index(r["size"]), r["threads"], r["seconds"])):
        c = cost[row["method"]]
        gmacs = c["gmacs"][row["size"]]
        method = row["method"] + (f" (ran {' + '.join(row['routed_to'])})" if row.get("routed_to") else "")
        ratio = "-" if row["ratio_to_reference"] is None else f"{row['ratio_to_reference']:.2f}"
        lines.append(
            f"| {method} | {c['parameters']:,} | {row['size']} | {'-' if gmacs is None else f'{gmacs:.2f}'} "
            f"| {row.get('precision', '-')} | {row['threads']} | {row['seconds']:.3f} | {row['median_seconds']:.3f} "
            f"| {ratio} "
            f"| {row['images_per_second']:.2f} | {row['peak_rss_mb']:.0f} |"
        )
    lines += ["", "Conv GMACs at 1200 x 900 (the size the Zero-DCE++ paper quotes its speed at):", ""]
    lines += [f"- {m}: {c['gmacs_1200x900']:.3f}" for m, c in cost.items() if c["gmacs_1200x900"] is not None]
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
