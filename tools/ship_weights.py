"""Copy a finished training run's weights into the package and record them in weights/manifest.json.

Usage: python tools/ship_weights.py NAME RUN_DIR --summary "one line" --description "..." --command "lowface train ..."
       [--weights RUN_DIR/snapshots/step-2000.safetensors]

The step and training time recorded are the shipped file's own (its safetensors metadata, written by the trainer);
the loss is the last one logged at or before that step (log.jsonl is written every ``log_every`` steps).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
from datetime import date
from pathlib import Path

import yaml
from safetensors import safe_open

from lowface.assets import record_checksum, sha256_file
from lowface.train.checkpoints import initial_weight_files

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "lowface" / "weights"
DATASETS = {"lfw": "LFW's training list", "celeba": "CelebA's in-the-wild train people", "sice": "SICE's train scenes"}


def licence(config: dict) -> str:
    """The weights' licence line, naming every research-use dataset the run read."""
    share = config.get("sice_share") or 0
    sets = (list(config.get("face_sets", ["lfw"])) if share < 1 else []) + (["sice"] if share else [])
    named = [DATASETS[s] for s in sets]
    listing = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]
    every = "all are" if len(named) > 2 else "both are" if len(named) == 2 else "it is"
    return (f"MIT (weights trained by lowface's own code on {listing}; {every} for research use, so treat these "
            f"weights as research-use)")  # fmt: skip


def trained_for(weights: Path, log: list[dict]) -> dict:
    """Steps, training seconds and the last logged loss of the weights file ``weights``: its own metadata, the log
    where the file has none."""
    with safe_open(str(weights), "pt") as file:
        metadata = file.metadata() or {}
    step = int(metadata.get("step", log[-1]["step"] if log else 0))
    logged = [line for line in log if line["step"] <= step] or [{}]
    seconds = metadata.get("train_seconds", logged[-1].get("train_seconds"))
    return {"steps": step, "train_seconds": None if seconds is None else float(seconds),
            "final_loss": logged[-1].get("loss")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--description", required=True, help="what it is; a new version adds its change and effect")
    parser.add_argument("--summary", default=None, help="one line for `lowface models` (default: the name's old one)")
    parser.add_argument("--command", required=True)
    parser.add_argument("--weights", type=Path, default=None, help="a snapshot (default: RUN_DIR/model.safetensors)")
    parser.add_argument("--note", default=None, help="e.g. where the init_from weights came from")
    parser.add_argument("--trained-on", default=None, help="the machine, when it was not this one (e.g. a GPU)")
    args = parser.parse_args()

    manifest_path = WEIGHTS_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    summary = args.summary or manifest.get(args.name, {}).get("summary")
    if not summary:
        parser.error(f"{args.name} is new: give it a --summary (one line for `lowface models`)")
    config = yaml.safe_load((args.run_dir / "config.yaml").read_text())
    log = [json.loads(line) for line in (args.run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    target = WEIGHTS_DIR / f"{args.name}.safetensors"
    init_files = initial_weight_files(config.get("init_from"))
    init_sha = [sha256_file(path) for path in init_files] or None  # before the copy may replace them
    init_sha = init_sha[0] if init_sha and len(init_sha) == 1 else init_sha
    weights = args.weights or args.run_dir / "model.safetensors"
    trained = trained_for(weights, log)
    shutil.copyfile(weights, target)
    kwargs = {k: v for k, v in config["model"].items() if k != "type"}
    manifest[args.name] = {
        "architecture": config["model"]["type"],
        "kwargs": kwargs,
        "summary": summary,
        "description": args.description,
        "file": target.name,
        "sha256": sha256_file(target),
        "licence": licence(config),
        "command": args.command,
        "extra": {
            **trained,
            "trained_on": args.trained_on
            or f"{date.today().isoformat()}, {platform.machine()} CPU, {os.cpu_count()} cores, "
            f"{config.get('threads') or 'all'} thread(s), torch from lowface's venv",
            "config": config,
        },
    }
    if init_sha:
        manifest[args.name]["extra"]["init_from_sha256"] = init_sha
    if args.note:
        manifest[args.name]["extra"]["note"] = args.note
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    record_checksum(target)
    record_checksum(manifest_path)
    print(f"shipped {args.name}: {target} sha256 {manifest[args.name]['sha256']}")


if __name__ == "__main__":
    main()
