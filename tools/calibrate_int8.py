"""Calibrate a shipped restoring network for int8 convolutions: the ranges of the maps its denoiser's U-Net
convolutions read, tracked on real under-exposed captures, written with its tensors (``--precision int8`` then runs
the U-Net in int8: lowface.models.int8). Post-training: the weights are not changed.

    python tools/calibrate_int8.py lowface-restore-real runs/int8/lowface-restore-real.safetensors \\
        --data-root ../shared/data

Each range is the mean over the images of each image's minimum and maximum (the maps upstream already rounded to 8
bits, as the int8 runtime reads them), over every ``--every``-th under-exposed frame of SICE's train scenes (never
its validation or test scenes).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import safetensors.torch
import torch

from lowface.data.sice import sice_pairs
from lowface.inference.catalogue import create_model, model_card, shipped_weights_path
from lowface.io import atomic_write_bytes, image_to_tensor, read_image


@click.command()
@click.argument("name")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data-root", type=click.Path(exists=True, file_okay=False, path_type=Path), default="../shared/data")
@click.option("--every", type=int, default=8, show_default=True, help="Take every n-th under-exposed train frame.")
@click.option("--threads", type=int, default=2, show_default=True)
def main(name: str, out: Path, data_root: Path, every: int, threads: int) -> None:
    """Write NAME's shipped tensors and its denoiser's int8 ranges to OUT (its manifest arguments with
    denoiser_int8_aware set)."""
    torch.set_num_threads(threads)
    card = model_card(name)
    if card.architecture != "restore_net" or card.file is None:
        raise click.UsageError(f"{name} is not a shipped restoring network (architecture {card.architecture})")
    source = shipped_weights_path(card)
    with safetensors.safe_open(str(source), "pt") as handle:
        metadata = handle.metadata() or {}
    arguments = {**card.kwargs, "denoiser_int8_aware": True}
    model = create_model(name)
    calibrating = type(model)(**arguments)
    missing, unexpected = calibrating.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(".quantisers." not in key for key in missing):
        raise click.ClickException(f"{name}'s tensors do not fit its int8-aware architecture")
    calibrating.eval()
    quantisers = calibrating.denoiser.quantisers
    for quantiser in quantisers.values():
        quantiser.momentum = None
    quantisers.train()
    frames = [dark for dark, _ in sice_pairs(data_root, "train")][::every]
    with torch.inference_mode():
        for path in frames:
            calibrating.enhance(image_to_tensor(np.asarray(read_image(path).rgb, np.float32)))
    quantisers.eval()
    ranges = {key: [round(float(q.low), 4), round(float(q.high), 4)] for key, q in quantisers.items()}
    state = {key: value.detach().cpu().contiguous() for key, value in calibrating.state_dict().items()}
    model_config = {"type": card.architecture, **arguments}
    metadata = {**metadata, "model": json.dumps(model_config),
                "int8_calibration": f"{len(frames)} under-exposed SICE train frames (every {every}th)"}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, safetensors.torch.save(state, metadata=metadata))
    click.echo(f"{out}: {len(frames)} frames; ranges {json.dumps(ranges)}")


if __name__ == "__main__":
    main()
