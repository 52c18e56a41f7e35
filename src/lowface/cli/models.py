"""``lowface models``: the enhancers and the frozen face networks, with files, checksums and licences."""

from __future__ import annotations

import textwrap

import click


@click.command()
@click.argument("pattern", default="*")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show each model's full description (every version's change and its measured effect), files, checksums, "
    "licences and training commands.",
)
def models(pattern: str, verbose: bool) -> None:
    """List the enhancers (optionally matching a glob PATTERN), a line each, and the frozen face networks."""
    from lowface.face.packages import PACKAGED_FILES, FaceModelMissing, packaged_file
    from lowface.inference.catalogue import list_models, model_card

    names = list_models(pattern)
    width = max(len(name) for name in [*names, *PACKAGED_FILES])
    under = " " * (width + 3)  # the column the text starts in

    click.echo("Enhancers:")
    for name in names:
        card = model_card(name)
        click.echo(f"  {name:{width}s} {card.headline}")
        if verbose:
            click.echo(f"{under}architecture {card.architecture}")
            if card.summary:  # the full story: what it is, each version's change and its measured effect
                wrapped = textwrap.fill(
                    card.description,
                    118,
                    initial_indent=under,
                    subsequent_indent=under,
                    break_long_words=False,
                    break_on_hyphens=False,
                )  # (paths, numbers)
                click.echo(wrapped)
            if card.file:
                click.echo(f"{under}file {card.file}  sha256 {card.sha256}")
            if card.int8:  # the int8 runtime's own weights (--precision int8)
                click.echo(f"{under}int8 file {card.int8['file']}  sha256 {card.int8['sha256']}")
            click.echo(f"{under}licence {card.licence}")
            if card.command:
                click.echo(f"{under}trained with: {card.command}")
            if card.int8:
                click.echo(f"{under}int8 weights trained with: {card.int8['command']}")
    click.echo("Frozen face networks (from registry packages):")
    for entry in PACKAGED_FILES.values():
        try:
            status = f"installed at {packaged_file(entry.name)}" if verbose else "installed"
        except FaceModelMissing:
            status = f"missing: install {entry.requirement}"
        except ValueError as exc:
            status = f"checksum mismatch: {exc}"
        click.echo(f"  {entry.name:{width}s} {entry.description}")
        click.echo(f"{under}{status}")
        if verbose:
            click.echo(f"{under}package {entry.requirement}  file {entry.relative_path}")
            click.echo(f"{under}sha256 {entry.sha256}  licence {entry.licence}")
