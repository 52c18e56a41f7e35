"""x264 settings on enhanced frames: encoder CPU, file size and fidelity, alternated.

Usage:
    python benchmarks/encode_options.py --data-root ../shared/data --frames 40 --rounds 3 \
        --out benchmarks/results/encode_options/x264.json

Two 1080p clips of what `lowface enhance` writes, made once and held in memory: "noisy pan" - the load benchmark's
dark panning face with Gaussian noise 0.03 (``benchmarks/load.py``), every frame through the default model; "real
mosaic" - 19 real low-light photos (DICM, ExDark) enhanced by the default model, tiled, panning with a jitter of a few
pixels, three tiles moving on their own. Each candidate encodes each clip at CRF 18 (the h264 default) once a round,
candidates taking turns (this VM drifts by 5-10 % within minutes); reported: the median CPU of the process a frame
(x264's own threads included), the file's megabits a second at 30 frames/s, and PSNR of the decoded luma and chroma to
the encoder's YUV input. Candidates: ``veryfast`` and ``superfast`` (``balanced`` and ``fast`` until 2026-12-05),
``balanced`` (the default) and ``fast`` (``--encode-speed fast``) now.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
from pathlib import Path

import av
import numpy as np
from common import provenance, write_results
from load import panned_frames, source_images

from lowface import Enhancer
from lowface.io import read_image, to_uint8
from lowface.io.video_output import SPEED_OPTIONS

CANDIDATES = {
    "veryfast (before)": {"preset": "veryfast"},
    "balanced (default)": SPEED_OPTIONS["libx264"]["balanced"],
    "superfast (fast before)": {"preset": "superfast"},
    "fast": SPEED_OPTIONS["libx264"]["fast"],
}
SIZE = (1920, 1080)


def noisy_pan(enhancer: Enhancer, data_root: Path, frames: int, noise: float) -> list[np.ndarray]:
    """The load benchmark's clip (a dark face panned over, sensor noise), enhanced: (1080, 1920, 3) uint8 frames."""
    base = next(source_images(data_root, 1, SIZE)) / 0.2 * 0.15
    return [to_uint8(enhancer.enhance(np.clip(dark, 0, 1))) for dark in panned_frames(base, frames, sigma=noise)]


def real_mosaic(enhancer: Enhancer, data_root: Path, frames: int) -> list[np.ndarray]:
    """Enhanced real low-light photos tiled 4 x 3 (560 x 420 each) on a panning, jittering canvas, three of them
    also moving on their own: (1080, 1920, 3) uint8 frames."""
    real = data_root / "lowlight_real"
    paths = sorted((real / "DICM").glob("*.jpg"))[:10] + sorted((real / "ExDark_samples").glob("*"))[:9]
    tiles = []
    for path in paths:
        frame = av.VideoFrame.from_ndarray(to_uint8(enhancer.enhance(read_image(path).rgb)), format="rgb24")
        tiles.append(frame.reformat(560, 420, interpolation="BICUBIC").to_ndarray())
    canvas = np.zeros((1260, 2240, 3), np.uint8)
    for k, tile in enumerate(tiles[:12]):
        row, col = divmod(k, 4)
        canvas[row * 420 : (row + 1) * 420, col * 560 : (col + 1) * 560] = tile
    rng = np.random.default_rng(0)
    out = []
    for i in range(frames):
        dx, dy = 3 * i + int(rng.integers(-2, 3)), i + int(rng.integers(-2, 3))
        frame = canvas[60 + dy : 1140 + dy, 40 + dx : 1960 + dx].copy()
        for j, tile in enumerate(tiles[-3:]):
            y, x = 80 + 280 * j + 4 * i * (j + 1) % 200, 200 + 500 * j + 6 * i
            frame[y : y + 200, x : x + 260] = tile[100 : 300, 100 : 360]  # fmt: skip
        out.append(frame)
    return out


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def encode(frames: list[av.VideoFrame], options: dict[str, str], path: Path) -> dict[str, float]:
    """Encode YUV ``frames`` at CRF 18 with x264 ``options`` into ``path``: CPU ms a frame, Mbit/s, PSNR Y and UV."""
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.options = {"crf": "18", **options}
        start = process_cpu()
        for i, frame in enumerate(frames):
            frame.pts = i
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
        cpu = process_cpu() - start
    with av.open(str(path)) as decoded:
        planes = [frame.to_ndarray().astype(np.float32) for frame in decoded.decode(video=0)]
    inputs = [frame.to_ndarray() for frame in frames]
    psnr = {}
    for name, rows in (("psnr_y", slice(0, SIZE[1])), ("psnr_uv", slice(SIZE[1], None))):
        mse = np.mean([np.mean((a[rows] - b[rows]) ** 2) for a, b in zip(planes, inputs, strict=True)])
        psnr[name] = round(float(10 * np.log10(255**2 / mse)), 2)
    megabits = path.stat().st_size * 8 / 1e6 / (len(frames) / 30)
    return {"cpu_ms": 1000 * cpu / len(frames), "mbit_s": round(megabits, 2), **psnr}


def clip_arguments(description: str, rounds: int, out: str) -> argparse.Namespace:
    """The command line of a script that encodes the two clips (:func:`enhanced_clips`) in ``rounds`` rounds."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--noise", type=float, default=0.03)
    parser.add_argument("--out", type=Path, default=Path(out))
    return parser.parse_args()


def enhanced_clips(args: argparse.Namespace) -> dict[str, list[np.ndarray]]:
    """The two 1080p clips through the default model, by name: (H, W, 3) uint8 frames."""
    enhancer = Enhancer.from_pretrained("lowface-auto", "cpu")
    return {"noisy pan": noisy_pan(enhancer, args.data_root, args.frames, args.noise),
            "real mosaic": real_mosaic(enhancer, args.data_root, args.frames)}  # fmt: skip


def cpu_times(results: list[dict]) -> dict[str, object]:
    """The rounds' encoder CPU ms a frame: their median and each, for a results row."""
    return {"cpu_ms_median": round(statistics.median(r["cpu_ms"] for r in results), 1),
            "cpu_ms_all": [round(r["cpu_ms"], 1) for r in results]}  # fmt: skip


def table_head(title: str, record: dict, columns: list[str]) -> list[str]:
    """A results page's first lines: ``title``, the command, date and machine of ``record``, a table's header."""
    return [f"# {title}", "", f"`{record['command']}` - {record['date']}, {record['machine']}", "",
            "| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]  # fmt: skip


def main() -> None:
    args = clip_arguments(__doc__, 3, "benchmarks/results/encode_options/x264.json")
    clips = enhanced_clips(args)
    yuv = {name: [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p") for f in frames]
           for name, frames in clips.items()}  # fmt: skip
    runs: dict[tuple[str, str], list[dict]] = {(c, k): [] for c in yuv for k in CANDIDATES}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            for clip, frames in yuv.items():
                for name, options in CANDIDATES.items():
                    runs[clip, name].append(encode(frames, options, Path(scratch) / "clip.mp4"))
                    print(round_, clip, name, runs[clip, name][-1], flush=True)
    rows = []
    for (clip, name), results in runs.items():
        first = results[0]
        rows.append({"clip": clip, "settings": name, "options": CANDIDATES[name], **cpu_times(results),
                     "mbit_s": first["mbit_s"], "psnr_y": first["psnr_y"], "psnr_uv": first["psnr_uv"]})  # fmt: skip
    record = {**provenance(), "frames": args.frames, "rounds": args.rounds, "rows": rows}
    lines = table_head(f"x264 on enhanced 1080p frames: {args.frames} frames, CRF 18, {args.rounds} rounds alternated",
                       record, ["clip", "settings", "encoder CPU ms/frame (median)", "Mbit/s at 30 fps",
                                "PSNR Y / UV (dB)"])  # fmt: skip
    for row in rows:
        lines.append(f"| {row['clip']} | {row['settings']} | {row['cpu_ms_median']} | {row['mbit_s']} | "
                     f"{row['psnr_y']} / {row['psnr_uv']} |")  # fmt: skip
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
