"""``lowface models``: the enhancers and the frozen face networks, with files, checksums and licences."""

from __future__ import annotations

import click


@click.command()
@click.argument("pattern", default="*")
@click.option("-v", "--verbose", is_flag=True, help="Show files, checksums, licences and training commands.")
def models(pattern: str, verbose: bool) -> None:
    """List the enhancers (optionally matching a glob PATTERN) and the frozen face networks."""
    from lowface.face.packages import PACKAGED_FILES, FaceModelMissing, packaged_file
    from lowface.inference.catalogue import list_models, model_card

    click.echo("Enhancers:")
    for name in list_models(pattern):
        card = model_card(name)
        click.echo(f"  {name:22s} {card.architecture:24s} {card.description}")
        if verbose:
            if card.file:
                click.echo(f"  {'':22s} file {card.file}  sha256 {card.sha256}")
            click.echo(f"  {'':22s} licence {card.licence}")
            if card.command:
                click.echo(f"  {'':22s} trained with: {card.command}")
    click.echo("Frozen face networks (from registry packages):")
    for entry in PACKAGED_FILES.values():
        try:
            status = f"installed at {packaged_file(entry.name)}" if verbose else "installed"
        except FaceModelMissing:
            status = f"missing: install {entry.requirement}"
        except ValueError as exc:
            status = f"checksum mismatch: {exc}"
        click.echo(f"  {entry.name:22s} {entry.description}")
        click.echo(f"  {'':22s} {status}")
        if verbose:
            click.echo(f"  {'':22s} package {entry.requirement}  file {entry.relative_path}")
            click.echo(f"  {'':22s} sha256 {entry.sha256}  licence {entry.licence}")
