"""Video A/B: the same noisy 1080p clip through the video pipeline of several code revisions, alternated.

Usage:
    python benchmarks/video_ab.py --revisions 8f0a964,HEAD --frames 60 --rounds 4 \
        --out benchmarks/results/video_ab/tone_workspace.json

A speed change of a few per cent drowns in this VM's drift between runs minutes apart, so the revisions take turns:
every round runs each revision once, in a child process of its own (a git worktree of the revision on PYTHONPATH),
on one clip built like ``benchmarks/load.py``'s (a dark panning scene, Gaussian noise of ``--noise`` per frame, MJPG).
The child does what ``lowface enhance`` does with a video (the allocator kept as the CLI keeps it, the default
model, frames two at a time on the worker threads, x264 ``balanced``), runs the clip once to warm up and once timed,
and reports wall and CPU seconds a frame (CPU: every thread of the child - network, decoding, encoding). Startup is
left out: what is compared is the pipeline's rate. The medians over the rounds and each revision's ratio to the
first are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import provenance, write_results
from load import source_images, write_video

CHILD = """
import json, sys, time
from pathlib import Path
from lowface.inference.batch import enhance_video_file
from lowface.inference.devices import keep_freed_memory
from lowface.inference.enhancer import Enhancer
from lowface.inference.jobs import Job
keep_freed_memory()
enhancer = Enhancer.from_pretrained(sys.argv[1], "cpu")
clip, out = Path(sys.argv[2]), Path(sys.argv[3])
enhance_video_file(enhancer, Job(clip, out), show_progress=False)  # warm-up: kernels made, memory at its peak
out.unlink()
wall, cpu = time.perf_counter(), time.process_time()
frames = enhance_video_file(enhancer, Job(clip, out), show_progress=False)
print(json.dumps({"frames": frames, "wall": (time.perf_counter() - wall) / frames,
                  "cpu": (time.process_time() - cpu) / frames}))
"""


def worktree(revision: str, folder: Path) -> Path:
    """A detached git worktree of ``revision`` in ``folder``."""
    subprocess.run(["git", "worktree", "add", "--force", "--detach", str(folder), revision], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return folder


def run_revision(source: Path, model: str, clip: Path, out: Path) -> dict:
    """One timed pass of ``clip`` through the code under ``source`` (a worktree's src folder)."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run([sys.executable, "-c", CHILD, model, str(clip), str(out)], env=env, check=True,
                          stdout=subprocess.PIPE, text=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", default="HEAD~1,HEAD", help="git revisions, comma-separated; first: base")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--noise", type=float, default=0.03, help="Gaussian noise a frame (0.03: all restored)")
    parser.add_argument("--model", default="lowface-auto")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/video_ab/video_ab.json"))
    args = parser.parse_args()
    revisions = args.revisions.split(",")
    runs: dict[str, list[dict]] = {revision: [] for revision in revisions}
    with tempfile.TemporaryDirectory(prefix="lowface-video-ab-") as scratch:
        scratch = Path(scratch)
        clip = scratch / "clip.avi"
        dark = next(source_images(args.data_root, 1, (640, 480)))
        write_video(clip, args.frames / 30, 30, dark / 0.2 * 0.15, sigma=args.noise)
        trees = {revision: worktree(revision, scratch / f"tree{i}") for i, revision in enumerate(revisions)}
        try:
            for round_ in range(args.rounds):
                for revision, tree in trees.items():
                    result = run_revision(tree / "src", args.model, clip, scratch / "out.avi")
                    runs[revision].append(result)
                    print(f"round {round_ + 1} {revision}: {1000 * result['wall']:.1f} ms a frame, "
                          f"{1000 * result['cpu']:.1f} ms of CPU", flush=True)  # fmt: skip
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=False)
    base = revisions[0]
    summary = {
        revision: {
            "wall_ms_per_frame": 1000 * statistics.median(r["wall"] for r in results),
            "cpu_ms_per_frame": 1000 * statistics.median(r["cpu"] for r in results),
            "frames_per_second": 1 / statistics.median(r["wall"] for r in results),
        }
        for revision, results in runs.items()
    }
    for row in summary.values():
        row["wall_ratio_to_base"] = row["wall_ms_per_frame"] / summary[base]["wall_ms_per_frame"]
        row["cpu_ratio_to_base"] = row["cpu_ms_per_frame"] / summary[base]["cpu_ms_per_frame"]
    short = ["git", "rev-parse", "--short"]
    commits = {rev: subprocess.run([*short, rev], capture_output=True, text=True).stdout.strip() for rev in revisions}
    record = {**provenance(), "model": args.model, "frames": args.frames, "rounds": args.rounds, "noise": args.noise,
              "commits": commits, "summary": summary, "runs": runs}  # fmt: skip
    lines = [
        f"# Video A/B: {args.frames} noisy 1080p frames, {args.rounds} alternated rounds, {args.model}",
        "",
        f"`{record['command']}` - {record['date']}, {record['machine']}",
        "",
        "| revision | commit | ms a frame (wall) | frames per second | CPU ms a frame | wall / base | CPU / base |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {revision} | {commits[revision]} | {row['wall_ms_per_frame']:.1f} | {row['frames_per_second']:.2f} | "
          f"{row['cpu_ms_per_frame']:.1f} | {row['wall_ratio_to_base']:.3f} | {row['cpu_ratio_to_base']:.3f} |"
          for revision, row in summary.items()],
    ]  # fmt: skip
    write_results(args.out, record, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
