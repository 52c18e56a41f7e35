"""The ``lowface`` command line: one module per command, shared options and the one error mapping in
:mod:`.common`.

Each command module imports only click (and light libraries) at its top; torch and the models load inside the
command, so ``lowface --help`` stays fast.
"""

from __future__ import annotations

import click

from lowface.cli.bench import bench
from lowface.cli.demo import demo
from lowface.cli.enhance import enhance
from lowface.cli.export import export
from lowface.cli.models import models
from lowface.cli.score import score
from lowface.cli.serve import serve
from lowface.cli.synth import synth
from lowface.cli.train import train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lowface")
def main() -> None:
    """Make dark face photos and video usable again, for people and for face recognition."""


for command in (enhance, score, serve, models, train, synth, export, demo, bench):
    main.add_command(command)

__all__ = ["main"]
