"""What every benchmark script records with its results: the command, the date and the machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lowface.bench.report import provenance

__all__ = ["provenance", "write_results"]


def write_results(out: Path, record: dict[str, Any], markdown: list[str]) -> None:
    """Write ``record`` as JSON to ``out`` and the markdown lines next to it (same name, .md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    out.with_suffix(".md").write_text("\n".join(markdown) + "\n")
