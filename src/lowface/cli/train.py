"""``lowface train``: unpaired training from a YAML config; resumes; data parallel under torchrun."""

from __future__ import annotations

from pathlib import Path

import click

from lowface.cli.common import user_errors


@click.command()
@click.option(
    "-c",
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML training config (keys: the fields of lowface.train.config.TrainConfig).",
)
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set steps=2000 --set model.type=fast_enhance_net.",
)
@click.option(
    "--ablation",
    default=None,
    help="Run one of Table IV's ablations: full, no-negatives, no-contrastive, no-feature, no-semantic, no-face.",
)
def train(config: Path | None, overrides: tuple[str, ...], ablation: str | None) -> None:
    """Train an enhancer without paired data (resumes from the run folder's checkpoint if there is one).

    Data parallel over N processes: torchrun --nproc_per_node N -m lowface.cli train -c CONFIG
    """
    from lowface.train.config import load_config
    from lowface.train.trainer import train as run_training

    with user_errors():
        cfg = load_config(config, list(overrides) + ([f"ablation={ablation}"] if ablation else []))
        path = run_training(cfg)
    click.echo(f"weights written to {path}")
