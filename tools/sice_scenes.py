"""Find SICE's scenes, references and the train / val / test split, and write lowface/data/sice_scenes.json.

    python tools/sice_scenes.py --data-root ../shared/data

The written list is committed: the split is made once and every later run reads it (lowface.data.sice).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import click

from lowface.assets import record_checksum
from lowface.data.sice import SCENES_FILE, SPLITS, find_scenes
from lowface.io import atomic_write_bytes

OUT = Path(__file__).resolve().parents[1] / "src" / "lowface" / "data" / SCENES_FILE


@click.command()
@click.option("--data-root", default="../shared/data", show_default=True, type=click.Path(exists=True))
@click.option("--seed", default=0, show_default=True, help="seed of the split of the location groups")
@click.option("--out", default=str(OUT), show_default=True, type=click.Path())
def main(data_root: str, seed: int, out: str) -> None:
    record = find_scenes(data_root, seed)
    header = {
        "command": f"python tools/sice_scenes.py --data-root {data_root} --seed {seed}",
        "date": datetime.date.today().isoformat(),
        "source": "SICE part 1 (Cai, Gu and Zhang, IEEE TIP 2018), 512x512 copy; research use only. This list "
        "holds frame numbers only, no image data.",
        "split_shares": {"train": 0.7, "val": 0.1, "test": 0.2},
    }
    # one scene per line: a diff of the list reads scene by scene
    body = ",\n".join("  " + json.dumps(scene) for scene in record["scenes"])
    head = json.dumps({**header, **{k: v for k, v in record.items() if k != "scenes"}}, indent=1)[:-2]
    atomic_write_bytes(Path(out), f'{head},\n "scenes": [\n{body}\n ]\n}}\n'.encode())
    record_checksum(out)
    scenes = record["scenes"]
    for split in SPLITS:
        chosen = [s for s in scenes if s["split"] == split]
        pairs = sum(len(s["under_exposed"]) for s in chosen)
        click.echo(f"{split}: {len({s['group'] for s in chosen})} places, {len(chosen)} scenes, {pairs} dark frames")
    click.echo(f"{record['frames']} frames, {len(record['unused'])} unused; wrote {out}")


if __name__ == "__main__":
    main()
