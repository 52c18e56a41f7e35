"""The main table of docs/benchmarks.md, printed from a `lowface bench` result (so every number there is reproducible).

Usage:
    python benchmarks/readme_table.py benchmarks/results/bench/bench.json

Columns: recognition on the noisy preset (accuracy and recovery per judge, rank-1), fidelity and no-reference
quality on the linear preset, MTCNN detection on the noisy preset, speed. Best non-bound value in bold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lowface.bench.methods import BOUNDS

NOISY, LINEAR = "x0.15-noise0.02", "linear"


def cell(value: float | None, fmt: str, best: bool) -> str:
    if value is None:
        return "-"
    text = fmt.format(value)
    return f"**{text}**" if best else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench_json", type=Path)
    args = parser.parse_args()
    record = json.loads(args.bench_json.read_text())
    noisy, linear, speed = record["lfw"][NOISY], record["lfw"][LINEAR], record["speed"]

    def judge(row: dict, name: str, key: str) -> float | None:
        value = row.get("judges", {}).get(name, {}).get(key)
        return None if value is None else 100 * value

    columns = [  # header, getter, format, higher is better
        ("x0.15+noise: FaceNet acc %", lambda m: judge(noisy[m], "facenet", "accuracy"), "{:.2f}", True),
        ("recovery", lambda m: judge(noisy[m], "facenet", "recovery"), "{:.0f} %", True),
        ("dlib acc %", lambda m: judge(noisy[m], "dlib", "accuracy"), "{:.2f}", True),
        ("recovery", lambda m: judge(noisy[m], "dlib", "recovery"), "{:.0f} %", True),
        ("rank-1 FaceNet %", lambda m: judge(noisy[m], "facenet", "rank1"), "{:.1f}", True),
        ("rank-1 dlib %", lambda m: judge(noisy[m], "dlib", "rank1"), "{:.1f}", True),
        ("MTCNN det %", lambda m: 100 * noisy[m]["detectors"]["mtcnn"]["detection_rate"], "{:.1f}", True),
        ("linear: PSNR", lambda m: linear[m].get("psnr"), "{:.2f}", True),
        ("SSIM", lambda m: linear[m].get("ssim"), "{:.3f}", True),
        ("NIQE", lambda m: linear[m].get("niqe"), "{:.2f}", False),
        ("BRISQUE", lambda m: linear[m].get("brisque"), "{:.1f}", False),
        ("ms/MP", lambda m: speed.get(m, {}).get("ms_per_megapixel"), "{:.0f}", False),
    ]
    methods = list(noisy)
    values = {m: [get(m) for _, get, _, _ in columns] for m in methods}
    best = []
    for i, (_, _, _, higher) in enumerate(columns):
        candidates = [values[m][i] for m in methods if m not in BOUNDS and values[m][i] is not None]
        best.append((max if higher else min)(candidates) if candidates else None)
    headers = ["method"] + [header for header, _, _, _ in columns]
    print("| " + " | ".join(headers) + " |")
    print("|---" * len(headers) + "|")
    for m in methods:
        cells = [
            cell(v, fmt, m not in BOUNDS and v is not None and v == best[i])
            for i, (v, (_, _, fmt, _)) in enumerate(zip(values[m], columns, strict=True))
        ]
        print(f"| `{m}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
