"""The time that ``lowface-restore-real``'s surround estimate (``surround_clip``, lowface.models.enhance_net) adds to a
1080p (or 4K, tiled as the CLI tiles it) frame: the shipped network with and without it, alternated round after round
in one process, on uniform noise x 0.3 (``benchmarks/speed.py``'s input) and on real night photos with lights,
resized. Best and median of ``--rounds`` runs each; plain inference through ``lowface.Enhancer`` (gate off), as the CLI
runs it.

    python benchmarks/surround_cost.py --threads 1 --out benchmarks/results/surround_clip/cost.json
    python benchmarks/surround_cost.py --threads 2 --size 4K --rounds 3 \
        --out benchmarks/results/surround_clip/cost_4k.json
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import click
import torch
import torch.nn.functional as F

from lowface.bench.report import provenance
from lowface.inference.enhancer import Enhancer
from lowface.io import image_to_tensor, read_image

SIZES = {"1080p": (1080, 1920), "4K": (2160, 3840)}
PHOTOS = ["LIME/9.bmp", "DICM/27.jpg", "ExDark_samples/2015_02057.jpg", "ExDark_samples/2015_05885.jpg"]


@click.command()
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--threads", default=1, show_default=True)
@click.option("--rounds", default=5, show_default=True)
@click.option("--size", type=click.Choice(list(SIZES)), default="1080p", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def main(data_root: Path, threads: int, rounds: int, size: str, out: Path | None) -> None:
    torch.set_num_threads(threads)
    enhancer = Enhancer.from_pretrained("lowface-restore-real", device="cpu", gate=False)
    estimator = enhancer.model.enhancer
    shipped = estimator.surround_clip
    height, width = SIZES[size]
    inputs = {"uniform noise x 0.3": torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)) * 0.3}
    for name in PHOTOS:
        path = data_root / "lowlight_real" / name
        if path.is_file():
            photo = image_to_tensor(read_image(path).rgb)
            inputs[name] = F.interpolate(photo, size=(height, width), mode="bilinear", align_corners=False).clamp(0, 1)
    rows = {}
    with torch.inference_mode():
        for name, x in inputs.items():
            seconds: dict[str, list[float]] = {"without": [], "with": []}
            enhancer.enhance_tensor(x)  # warm-up
            for _ in range(rounds):
                for setting, clip in (("without", None), ("with", shipped)):
                    estimator.surround_clip = clip
                    start = time.perf_counter()
                    enhancer.enhance_tensor(x)
                    seconds[setting].append(time.perf_counter() - start)
            rows[name] = {key: {"best_s": min(s), "median_s": statistics.median(s)} for key, s in seconds.items()}
            without, with_ = rows[name]["without"]["best_s"], rows[name]["with"]["best_s"]
            click.echo(f"{name:32s} without {without:.3f} s  with {with_:.3f} s  "
                       f"(+{1000 * (with_ - without):.0f} ms, x{with_ / without:.3f})")  # fmt: skip
    if out:
        record = {**provenance(threads), "surround_clip": shipped, "size": f"{width}x{height}", "rounds": rounds,
                  "rows": rows}  # fmt: skip
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
