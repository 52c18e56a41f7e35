"""Fidelity of enhancers on SICE's real pairs of one split - the quick check used to choose weights (on ``val``; the
test split is for reporting, with ``lowface bench``). No face detection, no caching.

    python benchmarks/real_pairs_select.py --split val lowface-fast mine=lowface-fast:runs/x/model.safetensors

Per method: mean PSNR, brightness-matched PSNR, SSIM and CIEDE2000 against each frame's scene reference (outputs
rounded to 8 bits, as saved), as ``lowface bench`` computes them (lowface.bench.real_pairs.pair_fidelity).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch

from lowface.api import Enhancer
from lowface.bench.methods import MethodSpec
from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.bench.report import provenance


@click.command()
@click.argument("methods", nargs=-1, required=True)
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="val", show_default=True)
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON.")
def main(methods, split, data_root, threads, out) -> None:
    torch.set_num_threads(threads)
    pairs = RealPairsSet.load(data_root, split)
    rows = {}
    for spec in map(MethodSpec.parse, methods):
        enhancer = Enhancer.from_pretrained(spec.name, device="cpu", weights=spec.weights, gate=False)
        images = [np.round(enhancer.enhance(dark) * 255).astype(np.uint8) for dark in pairs.dark]
        rows[spec.label] = pair_fidelity(images, pairs.references)
        r = rows[spec.label]
        click.echo(
            f"{spec.label:24s} PSNR {r['psnr']:.2f}  matched {r['psnr_matched']:.2f}  SSIM {r['ssim']:.3f}  "
            f"dE00 {r['ciede2000']:.2f}  (matched: SSIM {r['ssim_matched']:.3f}, dE00 {r['ciede2000_matched']:.2f})"
        )
    if out:
        record = {**provenance(threads), "split": split, "frames": len(pairs.dark), "rows": rows}
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
