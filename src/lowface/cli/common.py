"""What the commands share: the ``--data-root`` option, comma-separated lists, the command as typed (provenance)
and the one mapping from exceptions to user-facing errors.

Command modules import only click at their top: heavy imports (torch, the models) happen inside the command, so
``lowface --help`` stays fast.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

# What a user can cause or fix: a bad value or name, a missing file, package or dataset (FileNotFoundError covers
# lowface.assets.AssetMissing and lowface.data.lfw.DatasetMissing), a device or cluster that is not there.
USER_ERRORS = (ValueError, KeyError, FileNotFoundError, ImportError, RuntimeError, ConnectionError)


def passive_openmp() -> None:
    """Let PyTorch's OpenMP threads sleep instead of spinning while they wait (``OMP_WAIT_POLICY=PASSIVE``) unless
    the user chose otherwise. Must run before torch is imported. Video enhancement runs the network beside the
    decoder's and encoder's threads; spinning OpenMP threads take their cores: a 1080p clip through
    ``lowface-auto-fast`` on 2 cores ran at 5.7 frames/s instead of 4.3 (the network alone: no change)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn :data:`USER_ERRORS` into click's ``Error: message`` (exit code 1) instead of a traceback."""
    try:
        yield
    except USER_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # str(KeyError) adds quotes
        raise click.ClickException(str(message)) from None


def data_root_option(holds: str) -> Callable[[Any], Any]:
    """``--data-root`` (default ``../shared/data``); ``holds`` says which datasets the command reads from it."""
    return click.option(
        "--data-root",
        type=click.Path(path_type=Path),
        default=Path("../shared/data"),
        show_default=True,
        help=f"Folder holding {holds}.",
    )


def names(text: str) -> list[str]:
    """Comma-separated names as a list.

    Example:
        >>> names("mtcnn, hog,,blazeface ")
        ['mtcnn', 'hog', 'blazeface']
    """
    return [item.strip() for item in text.split(",") if item.strip()]


def typed_command(ctx: click.Context) -> str:
    """The command as typed (options given on the command line, in declaration order), for provenance."""
    parts = ["lowface", ctx.info_name or "bench"]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) != click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Option) and param.is_flag:
            parts.append(param.opts[0] if value else param.secondary_opts[0])
        else:  # an empty value stays (shlex quotes it: --presets '')
            parts += [param.opts[-1], str(value)] if isinstance(param, click.Option) else [str(value)]
    return shlex.join(parts)
