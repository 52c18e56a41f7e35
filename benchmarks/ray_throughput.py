"""Throughput of `lowface enhance --ray` against the local run, on this machine.

Usage:
    python benchmarks/ray_throughput.py --images 96 --model lowface-fast --out benchmarks/results/ray_throughput.json

Builds a folder of dark 640x480 JPEGs (smooth synthetic scenes; no data needed), then runs the CLI as a child
process: locally (all cores), locally with --threads 1, and on a local Ray cluster with 1 and 2 workers of one
thread each. Each run starts from an empty output folder; wall time includes starting Python, loading the model
and, for Ray, starting the cluster and its workers - the fixed cost that a long job amortises, reported apart
as the time to the first output. Also: the lowface network's multiply-accumulates per 1080p frame, from which
docs/ray.md's per-GPU figure is estimated (labelled as an estimate unless a GPU was measured).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import provenance, write_results

from lowface.io import ImageData, write_image


def scenes(folder: Path, count: int) -> None:
    y, x = np.mgrid[0:480, 0:640].astype(np.float32) / 480.0
    for i in range(count):
        rgb = np.stack([0.5 + 0.4 * np.sin(6 * x + i), 0.5 + 0.4 * np.cos(5 * y + i / 7), (x + y) / 3], 2)
        write_image(folder / f"{i:04d}.jpg", ImageData(rgb * 0.15), quality=90)


def timed(command: list[str], output: Path) -> dict:
    """Wall seconds of the command and seconds until its first output file appeared."""
    first: list[float] = []
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def watch() -> None:
        while process.poll() is None and not first:
            if output.is_dir() and any(output.glob("*.jpg")):
                first.append(time.perf_counter() - start)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, errors = process.communicate()
    seconds = time.perf_counter() - start
    watcher.join()
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{errors[-2000:]}")
    return {"seconds": seconds, "first_output_seconds": first[0] if first else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--model", default="lowface-fast")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ray_throughput.json"))
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="lowface-ray-"))
    cli = [sys.executable, "-m", "lowface.cli", "enhance", str(scratch / "in"), "-m", args.model, "-q"]
    runs = {
        "local": [],
        "local, --threads 1": ["--threads", "1"],
        "ray, 1 worker x 1 thread": ["--ray", "local", "--workers", "1", "--threads", "1"],
        "ray, 2 workers x 1 thread": ["--ray", "local", "--workers", "2", "--threads", "1"],
    }
    results = {}
    try:
        scenes(scratch / "in", args.images)
        for name, extra in runs.items():
            output = scratch / "out"
            shutil.rmtree(output, ignore_errors=True)
            row = timed([*cli, "-o", str(output), *extra], output)
            row["images_per_second"] = args.images / row["seconds"]
            steady = row["seconds"] - (row["first_output_seconds"] or 0)
            row["steady_images_per_second"] = (args.images - 1) / steady if steady > 0 else None
            results[name] = row
            print(name, row, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    from lowface.bench.speed import count_macs
    from lowface.inference.catalogue import create_model

    macs = count_macs(create_model(args.model), 1080, 1920)
    record = {**provenance(), "model": args.model, "images": args.images, "size": "640x480", "results": results,
              "macs_per_1080p_frame": macs}  # fmt: skip
    lines = [
        f"`lowface enhance -m {args.model}` on {args.images} 640x480 JPEGs, locally and on a local Ray cluster "
        f"(each a fresh process: wall time includes start-up; 'steady' counts from the first output on). "
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}.",
        "",
        "| run | wall (s) | first output after (s) | images/s | steady images/s |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        steady = f"{r['steady_images_per_second']:.2f}" if r["steady_images_per_second"] else "-"
        lines.append(f"| {name} | {r['seconds']:.1f} | {r['first_output_seconds']:.1f} | "
                     f"{r['images_per_second']:.2f} | {steady} |")  # fmt: skip
    if macs:
        lines += ["", f"{args.model}: {macs / 1e9:.1f} G multiply-accumulates per 1920x1080 frame."]
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
