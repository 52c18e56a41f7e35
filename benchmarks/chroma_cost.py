"""The time of the default's chroma smoothing (lowface.inference.chroma) alone, in plain inference, at a few image
sizes: an input dark everywhere (the stage's worst case, every row smoothed), best and median of ``--repeats`` runs.

    python benchmarks/chroma_cost.py --threads 1 --out benchmarks/results/chroma_smoothing/cost.json
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import click
import torch

from lowface.bench.report import provenance
from lowface.inference.catalogue import model_card
from lowface.inference.chroma import ChromaSmoothing

SIZES = {"512x512": (512, 512), "1080p": (1080, 1920), "4K": (2160, 3840)}


@click.command()
@click.option("--threads", default=1, show_default=True)
@click.option("--repeats", default=7, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def main(threads: int, repeats: int, out: Path | None) -> None:
    torch.set_num_threads(threads)
    chroma = ChromaSmoothing(**model_card("lowface-auto").kwargs["chroma"])
    generator = torch.Generator().manual_seed(0)
    rows = {}
    with torch.inference_mode():
        for name, (height, width) in SIZES.items():
            x = torch.rand(1, 3, height, width, generator=generator) * 0.08
            image = torch.rand(1, 3, height, width, generator=generator)
            chroma.apply_(image.clone(), x)  # warm-up
            seconds = []
            for _ in range(repeats):
                copy = image.clone()
                start = time.perf_counter()
                chroma.apply_(copy, x)
                seconds.append(time.perf_counter() - start)
            rows[name] = {"best_ms": 1000 * min(seconds), "median_ms": 1000 * statistics.median(seconds)}
            click.echo(f"{name:8s} best {rows[name]['best_ms']:.1f} ms  median {rows[name]['median_ms']:.1f} ms")
    if out:
        out.write_text(json.dumps({**provenance(threads), "chroma": chroma.__dict__, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
