"""What every benchmark script records with its results: the command, the date and the machine."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import date
from pathlib import Path
from typing import Any


def provenance(threads: int | None = None) -> dict[str, str]:
    """The exact command line, today's date and a description of this machine."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": date.today().isoformat(),
        "machine": machine + (f", {threads} thread(s)" if threads else ""),
    }


def write_results(out: Path, record: dict[str, Any], markdown: list[str]) -> None:
    """Write ``record`` as JSON to ``out`` and the markdown lines next to it (same name, .md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    out.with_suffix(".md").write_text("\n".join(markdown) + "\n")
