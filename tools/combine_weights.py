"""Write the initial weights of lowface-restore v4: the enhancer of lowface-fast v1 and the denoiser of
lowface-restore v3, both as shipped at commit 1e30586 (read with `git show`).

    python tools/combine_weights.py [--out runs/init/restore-v4-init.safetensors]
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import click
import safetensors.torch

COMMIT = "1e30586"
FAST = "src/lowface/weights/lowface-fast.safetensors"
RESTORE = "src/lowface/weights/lowface-restore.safetensors"


def shipped(path: str) -> dict:
    data = subprocess.run(["git", "show", f"{COMMIT}:{path}"], check=True, capture_output=True).stdout
    with tempfile.NamedTemporaryFile(suffix=".safetensors") as handle:
        handle.write(data)
        handle.flush()
        return safetensors.torch.load_file(handle.name)


@click.command()
@click.option("--out", default="runs/init/restore-v4-init.safetensors", show_default=True, type=click.Path())
def main(out: str) -> None:
    fast, restore = shipped(FAST), shipped(RESTORE)
    combined = {f"enhancer.{key}": value for key, value in fast.items()}
    combined.update({key: value for key, value in restore.items() if key.startswith("denoiser.")})
    if set(combined) != set(restore):
        raise click.ClickException("the two files do not make one RestoreNet")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(combined, out)
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
