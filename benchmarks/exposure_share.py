"""Choose the exposure target's ``share`` (lowface.inference.exposure) on SICE's validation scenes: the default's
outputs without exposure control, then moved ``share`` of the way (in log mean luma) to the target's prediction by
the shipped curve (or, with ``--curve gamma``, by a gamma curve, for comparison), scored against each scene's
reference raw and brightness-matched (lowface.bench.real_pairs.pair_fidelity).

    python benchmarks/exposure_share.py --split val --shares 0,0.25,0.5,0.75,1 --out val_shares.json
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click
import numpy as np
import torch

from lowface.bench.methods import pretrained
from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.bench.report import provenance
from lowface.inference.exposure import mean_luma, shipped_exposure
from lowface.inference.statistics import exposure_features
from lowface.io import image_to_tensor, tensor_to_uint8


def gamma_settle(out: torch.Tensor, aim: torch.Tensor) -> torch.Tensor:
    """out (1, 3, H, W) with mean luma moved to exp(aim) by a gamma curve (bisection on log gamma in [-3, 3])."""
    low, high = -3.0, 3.0
    for _ in range(30):
        middle = (low + high) / 2
        if float(mean_luma(out ** np.exp(middle)).clamp_min(1e-3).log()) > float(aim):
            low = middle
        else:
            high = middle
    return out ** np.exp((low + high) / 2)


@click.command()
@click.option("--split", type=click.Choice(["train", "val"]), default="val", show_default=True)
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--shares", default="0,0.25,0.5,0.75,1", show_default=True)
@click.option("--curve", type=click.Choice(["shipped", "gamma"]), default="shipped", show_default=True)
@click.option(
    "--brighten/--darken-only",
    default=True,
    show_default=True,
    help="Move outputs both ways, or only those brighter than the prediction.",
)
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def main(split, data_root, shares, curve, brighten, threads, out) -> None:
    torch.set_num_threads(threads)
    pairs = RealPairsSet.load(data_root, split)
    enhancer = pretrained("lowface-auto")
    target = enhancer.model.exposure
    enhancer.model.exposure = None  # the networks' own brightness
    outputs = [image_to_tensor(enhancer.enhance(image)) for image in pairs.dark]
    features = [exposure_features(image_to_tensor(image)) for image in pairs.dark]
    rows = {}
    for share in map(float, shares.split(",")):
        moved = replace(target, share=share, brighten=brighten)
        images = []
        for out_image, feature in zip(outputs, features, strict=True):
            if curve == "shipped":
                result = moved.settle(out_image.clone(), feature)
            else:
                log_mean = mean_luma(out_image).clamp_min(1e-3).log()
                aim = log_mean + share * (moved.linear_from_features(feature) - log_mean)
                result = gamma_settle(out_image, aim if brighten else torch.minimum(aim, log_mean))
            images.append(tensor_to_uint8(result[0]))
        rows[f"{share:g}"] = r = pair_fidelity(images, pairs.references)
        how = curve if brighten else f"{curve}, darken only"
        click.echo(f"share {share:4.2f} ({how}): PSNR {r['psnr']:.2f}  SSIM {r['ssim']:.3f}  "
                   f"dE00 {r['ciede2000']:.2f} | "
                   f"matched PSNR {r['psnr_matched']:.2f}  SSIM {r['ssim_matched']:.3f}  "
                   f"dE00 {r['ciede2000_matched']:.2f}")  # fmt: skip
    if out:
        record = {**provenance(threads), "split": split, "frames": len(pairs.dark), "curve": curve,
                  "brighten": brighten, "exposure_target": shipped_exposure().to_dict(), "rows": rows}  # fmt: skip
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
