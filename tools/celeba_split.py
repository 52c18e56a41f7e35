"""Write the committed split of the in-the-wild CelebA people into train / val / test
(``src/lowface/data/celeba_split.json``), once: test people are never trained on or used to choose anything.

    python tools/celeba_split.py --data-root ../shared/data

The split is by identity (all photos of a person in one part), seeded, 60 / 10 / 30 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lowface.assets import record_checksum
from lowface.data.celeba import SPLIT_FILE, celeba_identities, split_people


@click.command()
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
def main(data_root: Path) -> None:
    people = sorted(set(celeba_identities(data_root).values()))
    parts = split_people(people)
    record = {
        "command": "python tools/celeba_split.py --data-root ../shared/data",
        "rule": "by identity, numpy default_rng(0) permutation of the sorted identity numbers, 60 / 10 / 30 %",
        **{name: sorted(ids) for name, ids in parts.items()},
    }
    SPLIT_FILE.write_text(json.dumps(record, indent=1) + "\n")
    record_checksum(SPLIT_FILE)
    click.echo(", ".join(f"{name} {len(ids)} people" for name, ids in parts.items()) + f" -> {SPLIT_FILE}")


if __name__ == "__main__":
    main()
