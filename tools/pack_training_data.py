"""Copy what a training run reads into one small folder, for a machine that has no copy of the data.

    python tools/pack_training_data.py --data-root ../shared/data --out .gpu/data --sice-split train

The folder has the data root's layout (``lfw/`` with train_images.txt and those images only, ``sice/`` with the
frames of the chosen splits' scenes, ``celeba_wild/`` with the train people's photos), so a config's ``data_root``
can point at it unchanged; ``--features`` adds the EfficientNet-Lite0 layers the feature losses use
(``features_weights``). Files are copied byte for byte (no re-encoding: the real noise and JPEG structure stay as
captured). Research data: never commit the folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from lowface.data.celeba import CELEBA_DIR, celeba_split
from lowface.data.lfw import lfw_root, lfw_train_images
from lowface.data.sice import SICE_DIR, SPLITS, sice_pairs


@click.command()
@click.option("--data-root", default="../shared/data", show_default=True, type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--sice-split", "sice_splits", multiple=True, type=click.Choice(SPLITS), help="repeatable")
@click.option("--sice-frames", default="under", show_default=True, type=click.Choice(["under", "all"]),
              help="the scenes' under-exposed frames and references, or every frame")  # fmt: skip
@click.option("--lfw/--no-lfw", default=True, show_default=True, help="LFW's training faces")
@click.option("--celeba/--no-celeba", default=False, show_default=True,
              help="CelebA's in-the-wild photos of the train people (face_sets: [lfw, celeba])")  # fmt: skip
@click.option("--features", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the feature-loss backbone layers here (.safetensors)")  # fmt: skip
def main(data_root: str, out: Path, sice_splits: tuple[str, ...], sice_frames: str, lfw: bool, celeba: bool,
         features: Path | None) -> None:  # fmt: skip
    files: set[tuple[Path, Path]] = set()
    if lfw:
        root = lfw_root(data_root)
        files.add((root / "train_images.txt", out / "lfw" / "train_images.txt"))
        files.update((path, out / "lfw" / path.relative_to(root)) for path in lfw_train_images(data_root))
    if celeba:
        folder = Path(data_root) / CELEBA_DIR
        train = set(celeba_split(data_root, "train"))  # identities.txt lists every photo; only these are copied
        files.add((folder / "identities.txt", out / CELEBA_DIR / "identities.txt"))
        files.update((path, out / CELEBA_DIR / path.relative_to(folder)) for path in train)
    for split in sice_splits:
        for pair in sice_pairs(data_root, split, sice_frames):
            files.update((path, out / SICE_DIR / path.name) for path in pair)
    for source, target in sorted(files):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    size = sum(target.stat().st_size for _, target in files)
    click.echo(f"{len(files)} files, {size / 1e6:.1f} MB under {out}")
    if features is not None:
        from lowface.backbones.efficientnet_lite import save_feature_layers

        features.parent.mkdir(parents=True, exist_ok=True)
        click.echo(f"feature layers: {save_feature_layers(features)} ({features.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
