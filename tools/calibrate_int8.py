"""Calibrate a shipped restoring network for int8 convolutions: the ranges of the maps its denoiser's U-Net
convolutions and its illumination estimator's convolutions read, tracked on real under-exposed captures, written with
its tensors (``--precision int8`` then runs them in int8: lowface.models.int8). Post-training: the weights are not
changed. ``--parts`` picks what is calibrated (from scratch, through the int8 simulation); the other part's ranges are
kept as the file has them (none where it has none: that part then runs in float).

    python tools/calibrate_int8.py lowface-restore-real runs/int8/lowface-restore-real.safetensors \\
        --data-root ../shared/data
    python tools/calibrate_int8.py lowface-restore-real runs/int8/lowface-restore-real.safetensors --ship \\
        --version-note "v3.14: ..."    # and put it in the package: the file, manifest.json, SHA256SUMS
    python tools/calibrate_int8.py lowface-restore-real runs/int8/v3.15.safetensors --parts estimator  # U-Net kept
    python tools/calibrate_int8.py lowface-restore-real:runs/students/l2-32-head8-qat-slow/model.safetensors \
        runs/students/l2-32-head8-calibrated.safetensors     # a trained student's tensors (its own architecture)

Each range is the mean over the images of each image's minimum and maximum (the maps upstream already rounded to 8
bits, as the int8 runtime reads them), over every ``--every``-th under-exposed frame of SICE's train scenes and (the
denoiser's) as many in-the-wild photos of CelebA's train people darkened by the ``real-mix`` training synthesis (never
a validation or test scene or person).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import numpy as np
import safetensors.torch
import torch

from lowface.assets import record_checksum, sha256_file
from lowface.data.celeba import celeba_split
from lowface.data.sice import sice_pairs
from lowface.data.synth import synthesize_float32
from lowface.inference.catalogue import (
    constructor_arguments,
    create_model,
    model_card,
    shipped_weights_path,
    split_model_spec,
)
from lowface.io import atomic_write_bytes, image_to_tensor, read_image
from lowface.models.int8_aware import ActivationQuantiser

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "lowface" / "weights"


@click.command()
@click.argument("spec", metavar="NAME[:WEIGHTS]")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data-root", type=click.Path(exists=True, file_okay=False, path_type=Path), default="../shared/data")
@click.option("--every", type=int, default=8, show_default=True, help="Take every n-th under-exposed train frame.")
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--ship", is_flag=True, help="Also make OUT the package's file for NAME and record it in the manifest.")
@click.option("--version-note", default=None, help="With --ship: what the new version is, added to the description.")
@click.option("--parts", type=click.Choice(["all", "denoiser", "estimator"]), default="all", show_default=True,
              help="Which ranges to calibrate; the others stay as NAME's file has them.")  # fmt: skip
@click.option(
    "--trained-by",
    default=None,
    help="With --ship and WEIGHTS: the commands that made WEIGHTS, recorded before the calibration's.",
)
def main(spec: str, out: Path, data_root: Path, every: int, threads: int, ship: bool, version_note: str | None,
         parts: str, trained_by: str | None) -> None:  # fmt: skip
    """Write NAME's shipped tensors (or the WEIGHTS file's, a network of NAME's architecture trained by ``lowface
    train``) and its int8 ranges to OUT (their constructor arguments with denoiser_int8_aware and estimator_int8_aware
    set)."""
    if ship and not version_note:
        raise click.UsageError("--ship needs a --version-note (the change and its measured effect)")
    name, weights = split_model_spec(spec)
    if ship and weights and not trained_by:
        raise click.UsageError("--ship with a WEIGHTS file needs --trained-by (the commands that made it)")
    torch.set_num_threads(threads)
    card = model_card(name)
    if card.architecture != "restore_net" or card.file is None:
        raise click.UsageError(f"{name} is not a shipped restoring network (architecture {card.architecture})")
    source = Path(weights) if weights else shipped_weights_path(card)
    with safetensors.safe_open(str(source), "pt") as handle:
        metadata = handle.metadata() or {}
    arguments = {**constructor_arguments(name, weights), "denoiser_int8_aware": True, "estimator_int8_aware": True}
    model = create_model(name, weights)
    calibrating = type(model)(**arguments)
    missing, unexpected = calibrating.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(".quantisers." not in key for key in missing):
        raise click.ClickException(f"{name}'s tensors do not fit its int8-aware architecture")
    calibrating.eval()
    chosen = {"denoiser": [calibrating.denoiser], "estimator": [calibrating.enhancer.estimator]}.get(
        parts, [calibrating.denoiser, calibrating.enhancer.estimator]
    )
    quantisers = torch.nn.ModuleList([part.quantisers for part in chosen])
    for quantiser in quantisers.modules():  # from scratch, also when NAME's file was calibrated before
        if isinstance(quantiser, ActivationQuantiser):
            quantiser.momentum = None
            quantiser.batches.zero_()
    quantisers.train()
    frames = [np.asarray(read_image(dark).rgb, np.float32) for dark, _ in sice_pairs(data_root, "train")[::every]]
    people = celeba_split(data_root, "train")
    clean = [read_image(path).rgb for path in people[:: max(1, len(people) // len(frames))][: len(frames)]]
    faces = synthesize_float32(clean, "real-mix", seed=1)
    with torch.inference_mode():
        for image in frames:
            calibrating.enhance(image_to_tensor(np.asarray(image, np.float32)))
        # the estimator's ranges from the scenes alone: the faces' darker maps narrowed its trunk's ranges and bright
        # scenes then clipped (SICE val contexts, distance to float32 mean / largest 0.0025 / 0.21, not 0.0022 / 0.17)
        calibrating.enhancer.estimator.quantisers.eval()
        for image in faces:
            calibrating.enhance(image_to_tensor(np.asarray(image, np.float32)))
    quantisers.eval()
    ranges = {f"{part_name}.{key}": [round(float(q.low), 4), round(float(q.high), 4)]
              for part_name, part in (("denoiser", calibrating.denoiser), ("estimator", calibrating.enhancer.estimator))
              for key, q in part.quantisers.items()}  # fmt: skip
    state = {key: value.detach().cpu().contiguous() for key, value in calibrating.state_dict().items()}
    model_config = {"type": card.architecture, **arguments}
    scenes = f"{len(frames)} under-exposed SICE train frames (every {every}th)"
    made = {"denoiser": f"{scenes}, {len(faces)} CelebA train people's photos darkened by real-mix",
            "estimator": scenes}  # fmt: skip
    calibration = "; ".join(f"{part}: {made[part]}" for part in made if parts in ("all", part))
    if parts != "all" and metadata.get("int8_calibration"):  # the other part's ranges are the file's: say how made
        calibration = f"{metadata['int8_calibration']}; {calibration}"
    metadata = {**metadata, "model": json.dumps(model_config), "int8_calibration": calibration}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, safetensors.torch.save(state, metadata=metadata))
    click.echo(f"{out}: {len(frames)} frames, {len(faces)} faces; ranges {json.dumps(ranges)}")
    if ship:
        options = f" --parts {parts} --every {every}" if (parts, every) != ("all", 8) else ""
        ship_calibrated(spec, out, arguments, calibration, version_note or "", options, trained_by)


def ship_calibrated(spec: str, weights: Path, arguments: dict, calibration: str, version_note: str,
                    options: str = "", trained_by: str | None = None) -> None:  # fmt: skip
    """Copy ``weights`` over the packaged file of ``spec``'s network and record the new file, its arguments, the
    calibration command (with ``options``; after ``trained_by``, the commands that made a given weights file, whose
    tensors replace the network's own and its int8 runtime's: the card's ``int8`` entry goes) and ``version_note`` in
    the manifest (and both checksums in SHA256SUMS)."""
    name, given = split_model_spec(spec)
    manifest_path = WEIGHTS_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest[name]
    target = WEIGHTS_DIR / entry["file"]
    shutil.copyfile(weights, target)
    command = f"python tools/calibrate_int8.py {spec} {weights}{options} --ship"
    if given:
        command = f"{trained_by} && {command}"
        entry.pop("int8", None)  # the int8 runtime's own tensors were the replaced network's
    entry.update(kwargs=dict(arguments), sha256=sha256_file(target), command=f"{entry['command']} && {command}",
                 description=f"{entry['description']}; {version_note}")  # fmt: skip
    entry["extra"]["int8_calibration"] = calibration
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    record_checksum(target)
    record_checksum(manifest_path)
    click.echo(f"shipped {name}: {target} sha256 {entry['sha256']}")


if __name__ == "__main__":
    main()
