"""What the default's mix of its two networks buys on dark footage with little or no noise: LFW training-list faces
upscaled to 1080p, darkened x ``--scale`` with Gaussian sensor noise of each ``--sigmas`` (``benchmarks/load.py``'s
clip is made this way), through ``lowface-auto`` (no gate) with its own shares and forced to each network alone;
PSNR / SSIM against the clean frame, raw and brightness-matched, and the router's probability. The split routing
made every image below probability 0.75 run both networks (``benchmarks/results/split_routing/``); this shows what
that buys where there is little noise to remove. Training-list faces only (never the benchmark's pairs).

    python benchmarks/mix_on_clean.py --data-root ../shared/data \
        --out benchmarks/results/split_routing/mix_on_clean.json
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import cv2
import numpy as np
import torch

from lowface.bench.report import provenance
from lowface.data.lfw import lfw_train_images
from lowface.inference.enhancer import Enhancer
from lowface.inference.statistics import exposure_features
from lowface.io import image_to_tensor, read_image
from lowface.metrics.color import match_brightness
from lowface.metrics.fidelity import psnr, ssim

ROUTES = ("fast alone", "default (its shares)", "restore alone")  # route 0, the router's probability, route 1


@click.command()
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--images", default=7, show_default=True, help="faces, spread over LFW's training list")
@click.option("--scale", default=0.15, show_default=True, help="the darkening factor")
@click.option("--sigmas", default="0,0.003", show_default=True, help="sensor noise levels (0-1 scale)")
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(data_root: Path, images: int, scale: float, sigmas: str, threads: int, out: Path) -> None:
    torch.set_num_threads(threads)
    enhancer = Enhancer.from_pretrained("lowface-auto", gate=False)
    paths = lfw_train_images(data_root)
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, images).round().astype(int)]
    clean = [cv2.resize(np.asarray(read_image(p).rgb, np.float32), (1920, 1080)) for p in paths]  # [0, 1]
    record = {**provenance(threads), "images": images, "scale": scale, "levels": {}}
    for sigma in map(float, sigmas.split(",")):
        rng = np.random.default_rng(0)
        rows: dict[str, list[list[float]]] = {label: [] for label in ROUTES}
        probability = []
        for image in clean:
            noise = sigma * rng.standard_normal(image.shape).astype(np.float32)
            x, y = image_to_tensor(np.clip(image * scale + noise, 0, 1)), image_to_tensor(image)
            with torch.inference_mode():
                own = enhancer.model.probability(x, exposure_features(x))  # what the default mixes by
                probability.append(float(own))
                for label, route in zip(ROUTES, (torch.zeros(1), own, torch.ones(1)), strict=True):
                    output = torch.round(enhancer.enhance_tensor(x, route=route).clamp(0, 1) * 255) / 255
                    matched = match_brightness(output, y)
                    rows[label].append([float(f(a, y)) for a in (output, matched) for f in (psnr, ssim)])
        level = {"probability": [round(p, 3) for p in probability]}
        level |= {label: dict(zip(("psnr", "ssim", "psnr_matched", "ssim_matched"),
                                  np.mean(values, 0).round(4).tolist(), strict=True))
                  for label, values in rows.items()}  # fmt: skip
        record["levels"][f"{sigma:g}"] = level
        click.echo(f"noise {sigma:g}: probability {min(probability):.2f}-{max(probability):.2f}")
        for label in ROUTES:
            click.echo(f"  {label:22s} " + "  ".join(f"{k} {v:.4f}" for k, v in level[label].items()))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
