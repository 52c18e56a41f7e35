"""``lowface synth``: darken files and folders with a named preset, keeping the folder tree."""

from __future__ import annotations

import json
from pathlib import Path

from tqdm import tqdm

from lowface.data.synth import SYNTHESIS_PRESETS, synthesize
from lowface.inference.jobs import plan_jobs
from lowface.io import IMAGE_SUFFIXES, atomic_write_bytes, read_image, write_image


def run_synth(inputs: list[Path], output: Path, preset: str, seed: int = 0) -> int:
    """Darken every image under ``inputs`` into ``output`` (PNG, 8-bit, alpha kept) and write
    ``output/synth.json`` with the preset, seed and each image's drawn parameters. Returns the image count.

    The whole set is darkened together (Algorithm 1's brightness target is a property of the set); the
    same inputs, preset and seed always give the same files.
    """
    jobs = [j for j in plan_jobs(inputs, output, out_format="png") if j.source.suffix.lower() in IMAGE_SUFFIXES]
    if not jobs:
        raise ValueError(f"no images found in {', '.join(map(str, inputs))}")
    images = [read_image(job.source) for job in tqdm(jobs, desc="reading", unit="img")]
    dark, params = synthesize([image.rgb for image in images], preset, seed)
    for job, image, pixels in tqdm(zip(jobs, images, dark, strict=True), total=len(jobs), desc=preset, unit="img"):
        write_image(job.target, image.with_rgb(pixels))
    record = {
        "preset": preset,
        "description": SYNTHESIS_PRESETS[preset].description,
        "seed": seed,
        "images": {str(j.target.relative_to(output)): p for j, p in zip(jobs, params, strict=True)},
    }
    atomic_write_bytes(output / "synth.json", json.dumps(record, indent=1).encode())
    return len(jobs)
