"""``lowface serve``: the local web app."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: every one).")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, mps.")
def serve(host: str, port: int, device: str) -> None:
    """A local web app: drop photos or a short video, pick a model and a strength, compare before / after with a
    split and zoom, see the faces found, download the result (same format, metadata kept) or a zip of a batch."""
    try:
        import uvicorn

        from lowface.inference.devices import keep_freed_memory
        from lowface.web.app import create_app
    except ImportError:
        raise click.ClickException("lowface serve needs the web extra: pip install 'lowface[web]'") from None
    keep_freed_memory()
    click.echo(f"lowface serve: http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    uvicorn.run(create_app(None if device == "auto" else device), host=host, port=port, log_level="warning")
