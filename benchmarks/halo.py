"""Dark rings round light sources (issue 20), measured on real dark frames: a light source (a lamp, a pole, a lit
window: ``lowface.data.lights.draw_light``, its core only) is painted into each under-exposed frame of SICE's real
pairs of one split, and each method's result is compared with its result on the same frame without it, in a band
2-32 px from the light's core (``lowface.metrics.halo.ring_ratio``). Choose weights on ``val``; ``test`` is for
reporting.

    python benchmarks/halo.py --split val gamma lowface-restore-real mine=lowface-restore-real:runs/x/model.safetensors

Per method: the mean ring ratio over frames and lights (1: the light leaves its surroundings alone; 0.8: a ring 20 %
darker), the 10th and 90th percentiles (the darker rings, the brighter glows) and the shares of lights with a ring over
10 % darker and over 10 % brighter (a glow: the denoiser's residual spread round a bright object). The lights are
drawn with a fixed seed, ``--lights`` per frame, one at a time. SICE's under-exposed frames are mostly daylight
scenes shot short; ``--exposure 0.1`` scales their linear light first, so that the light sits in the near-black
surroundings of a night scene, where the rings are deepest.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch

from lowface.bench.methods import MethodSpec, pretrained
from lowface.bench.real_pairs import RealPairsSet
from lowface.bench.report import provenance
from lowface.data.lights import draw_light
from lowface.data.synth import linear_to_srgb, srgb_to_linear
from lowface.metrics.halo import ring_ratio


def lit_frames(dark: list[np.ndarray], lights: int, seed: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(frame index, the frame with one light's core added in linear light, its distance map), ``lights`` a frame."""
    rng = np.random.default_rng(seed)
    out = []
    for index, frame in enumerate(dark):
        for _ in range(lights):
            light = draw_light(frame.shape[:2], rng)
            lit = linear_to_srgb(srgb_to_linear(frame) + light.core).astype(np.float32)
            out.append((index, lit, light.distance))
    return out


@click.command()
@click.argument("methods", nargs=-1, required=True)
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="val", show_default=True)
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--lights", default=3, show_default=True, help="Lights per frame, painted one at a time.")
@click.option(
    "--exposure",
    default=1.0,
    show_default=True,
    help="Scale the frames' linear light by this first (0.1: a night scene's dark sky round the light).",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON.")
def main(methods, split, data_root, lights, exposure, seed, threads, out) -> None:
    torch.set_num_threads(threads)
    dark = RealPairsSet.load(data_root, split).dark
    if exposure != 1:
        dark = [linear_to_srgb(exposure * srgb_to_linear(frame)).astype(np.float32) for frame in dark]
    samples = lit_frames(dark, lights, seed)
    rows: dict[str, dict] = {}
    for spec in map(MethodSpec.parse, methods):
        enhancer = pretrained(spec.name, spec.weights)
        unlit = [enhancer.enhance(frame) for frame in dark]
        ratios = np.asarray([ring_ratio(enhancer.enhance(lit), unlit[i], distance) for i, lit, distance in samples])
        ratios = ratios[np.isfinite(ratios)]
        rows[spec.label] = row = {
            "ring_ratio": float(ratios.mean()),
            "ring_ratio_p10": float(np.percentile(ratios, 10)),
            "ring_ratio_p90": float(np.percentile(ratios, 90)),
            "dark_rings": float((ratios < 0.9).mean()),
            "bright_rings": float((ratios > 1.1).mean()),
            "lights": int(ratios.size),
        }
        click.echo(f"{spec.label:28s} ring ratio {row['ring_ratio']:.3f}  p10 {row['ring_ratio_p10']:.3f}  "
                   f"p90 {row['ring_ratio_p90']:.3f}  rings > 10 % darker {100 * row['dark_rings']:.1f} %, "
                   f"brighter {100 * row['bright_rings']:.1f} % of {row['lights']} lights")  # fmt: skip
    if out:
        record = {**provenance(threads), "split": split, "frames": len(dark), "lights_per_frame": lights,
                  "exposure": exposure, "seed": seed, "rows": rows}  # fmt: skip
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
