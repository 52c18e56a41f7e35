"""Load: a folder of many images and a long 1080p video through `lowface enhance`, with bounded memory.

Usage:
    python benchmarks/load.py --images 1000 --video-seconds 300 --noise 0.03 --out benchmarks/results/load.json

The default model (``lowface-auto``, what ``lowface enhance`` runs) unless ``--model`` says otherwise; at noise
0.03 it restores every frame with ``lowface-restore-real`` (most real night footage), at the 0.01 default it
sends the clip to ``lowface-fast``.

Builds its own inputs in a scratch folder (darkened LFW pair images resized to 640x480 when the data root
is there, smooth synthetic images otherwise; a 1080p MJPG clip of a slowly panning dark scene with sensor
noise), runs the CLI as a child process for each, and reports wall time, throughput and the child's peak
resident memory (ru_maxrss, measured by a small wrapper process that starts it). Memory must not grow with
the number of images or frames.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from common import provenance, write_results
from tqdm import tqdm

from lowface.data.lfw import lfw_image_path, lfw_pairs
from lowface.io import ImageData, read_image, write_image

NOISE_BANK = 31


def source_images(data_root: Path, count: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """``count`` dark (H, W, 3) float images of ``size`` (W, H), one at a time (1,000 of them are 3.7 GB)."""
    keys = []
    if (data_root / "lfw").is_dir():
        pairs = lfw_pairs(data_root)
        keys = sorted({p.first for p in pairs} | {p.second for p in pairs})[:count]
    for i in range(count):
        if keys:
            rgb = read_image(lfw_image_path(data_root, *keys[i % len(keys)])).rgb
        else:
            y, x = np.mgrid[0:256, 0:256] / 256.0
            rgb = np.stack([0.5 + 0.4 * np.sin(6 * x + i), 0.5 + 0.4 * np.cos(5 * y), (x + y) / 2], 2)
        yield cv2.resize(rgb.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) * 0.2


# Runs the command as ITS child and prints that child's peak RSS (kB): measured from inside a small wrapper
# because a child forked straight from this (large) process reports this process's resident pages in ru_maxrss
MEASURE = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


def run_child(command: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS of the command in MB, exit code)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, *command], stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - start, int(done.stdout.split()[-1]) / 1024, done.returncode


def panned_frames(base: np.ndarray, frames: int, seed: int = 0, sigma: float = 0.01) -> Iterator[np.ndarray]:
    """``frames`` (1080, 1920, 3) float RGB frames panning slowly over ``base`` (dark), Gaussian sensor noise of
    ``sigma`` added (not clipped), drawn from a bank of NOISE_BANK frames, cycled: 9,000 fresh 1080p noise frames
    would take longer to draw than the test."""
    rng = np.random.default_rng(seed)
    big = cv2.resize(base, (2400, 1350), interpolation=cv2.INTER_LINEAR)
    noise = [sigma * rng.standard_normal((1080, 1920, 3), dtype=np.float32) for _ in range(NOISE_BANK)]
    for i in range(frames):
        x = int((i / max(frames - 1, 1)) * (2400 - 1920))
        yield big[135 : 135 + 1080, x : x + 1920] + noise[i % NOISE_BANK]


def write_video(path: Path, seconds: float, fps: float, base: np.ndarray, seed: int = 0, sigma: float = 0.01) -> int:
    """A 1920x1080 MJPG clip of :func:`panned_frames`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (1920, 1080))
    frames = int(seconds * fps)
    clip = panned_frames(base, frames, seed, sigma)
    for frame in tqdm(clip, total=frames, desc="writing clip", unit="frame", mininterval=5):
        writer.write(np.clip(frame[..., ::-1] * 255, 0, 255).astype(np.uint8))
    writer.release()
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--video-seconds", type=float, default=300.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--noise", type=float, default=0.01, help="sensor noise sigma of the clip (0-1 scale)")
    parser.add_argument("--model", default="lowface-auto", help="the enhancer (default: the CLI's default)")
    parser.add_argument(
        "--encode-speed",
        default="balanced",
        choices=["balanced", "fast"],
        help="the video encoder's effort (lowface enhance --encode-speed)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "float32", "bfloat16", "int8"],
        help="the restoring networks' convolutions (lowface enhance --precision)",
    )
    parser.add_argument("--scratch", type=Path, default=None, help="where inputs and outputs go (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/load.json"))
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="lowface-load-")) if args.scratch is None else args.scratch
    cli = [
        sys.executable,
        "-m",
        "lowface.cli",
        "enhance",
        "-m",
        args.model,
        "-q",
        "--device",
        "cpu",
        "--encode-speed",
        args.encode_speed,
        "--precision",
        args.precision,
    ]
    results = {}
    try:
        folder = scratch / "images"
        images = source_images(args.data_root, args.images, (640, 480))
        first = None  # the video's scene; the others are dropped once written
        for i, image in enumerate(tqdm(images, desc="writing images", total=args.images, unit="img", mininterval=5)):
            write_image(folder / f"{i:05d}.jpg", ImageData(image))
            if first is None:
                first = image
        seconds, peak, code = run_child([*cli, str(folder), "-o", str(scratch / "images-out")])
        results["folder"] = {
            "images": args.images, "size": "640x480", "exit_code": code, "seconds": seconds,
            "images_per_second": args.images / seconds, "peak_rss_mb": peak,
        }  # fmt: skip
        print(results["folder"], flush=True)
        if args.video_seconds > 0:
            clip = scratch / "clip.avi"
            frames = write_video(clip, args.video_seconds, args.fps, first / 0.2 * 0.15, sigma=args.noise)
            seconds, peak, code = run_child([*cli, str(clip), "-o", str(scratch / "video-out")])
            results["video"] = {
                "frames": frames, "size": "1920x1080", "seconds_of_video": args.video_seconds, "exit_code": code,
                "seconds": seconds, "frames_per_second": frames / seconds, "peak_rss_mb": peak,
            }  # fmt: skip
            print(results["video"], flush=True)
    finally:
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)
    record = {**provenance(), "model": args.model, "encode_speed": args.encode_speed, "precision": args.precision,
              "results": results,
              "rss_unit": "MB (ru_maxrss of the CLI process)"}  # fmt: skip
    lines = [
        f"Load through `lowface enhance -m {args.model} --device cpu --encode-speed {args.encode_speed} "
        f"--precision {args.precision}` "
        "(a child process each; peak RSS of that child). "
        f"Command: `{record['command']}`, {record['date']}, {record['machine']}.",
        "",
        "| input | count | exit | wall (s) | throughput | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    if "folder" in results:
        r = results["folder"]
        lines.append(f"| folder of 640x480 JPEGs | {r['images']} | {r['exit_code']} | {r['seconds']:.0f} | "
                     f"{r['images_per_second']:.2f} images/s | {r['peak_rss_mb']:.0f} |")  # fmt: skip
    if "video" in results:
        r = results["video"]
        lines.append(
            f"| 1080p MJPG video, {r['seconds_of_video']:.0f} s, noise {args.noise:g} | {r['frames']} frames "
            f"| {r['exit_code']} | "
            f"{r['seconds']:.0f} | {r['frames_per_second']:.2f} frames/s | {r['peak_rss_mb']:.0f} |"
        )
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
