"""A record beside each output of what made it (``.x.jpg.lowface.json`` beside ``x.jpg``: model, weights checksum,
gate, strength, output options, the source's size and modification time, the output's checksum), so that a rerun
redoes exactly what is missing or was made differently, and never replaces a file lowface did not make.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lowface
from lowface.inference.catalogue import sha256_file
from lowface.inference.jobs import Job, OutputOptions, record_path
from lowface.io import (
    atomic_write_bytes,
)


def job_record(recipe: dict[str, Any], job: Job, options: OutputOptions) -> dict[str, Any]:
    """What makes this output: the enhancer's recipe (:attr:`Enhancer.recipe`), the output options and the
    source file's identity."""
    stat = job.source.stat()
    return {
        "recipe": {**recipe, **options.for_job(job)},
        "source": {"path": os.path.abspath(job.source), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
    }


def output_state(job: Job, record: dict[str, Any]) -> str:
    """ "missing", "same" (made the same way from the same source, and the file is the one the record describes),
    "different" (made by lowface otherwise, or not the file its record describes: an interrupted replacement)
    or "foreign" (exists without a record)."""
    if not job.target.exists():
        return "missing"
    try:
        previous = json.loads(record_path(job.target).read_text())
    except (OSError, ValueError):
        return "foreign"
    source, known = record["source"], previous.get("source", {})
    same = (previous.get("recipe") == record["recipe"] and known.get("size") == source["size"]
            and known.get("mtime_ns") == source["mtime_ns"]
            and previous.get("output_sha256") == sha256_file(job.target))  # fmt: skip
    return "same" if same else "different"


def write_record(job: Job, record: dict[str, Any], how: str, output_sha256: str) -> None:
    """Write the record of ``job.target`` just before the output itself appears (renamed into place), with the
    checksum of the output to come: an output never exists without its record, and a record beside another
    file (the rename did not happen) is seen as different, not as done."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    record = {**record, "made": how, "output_sha256": output_sha256, "lowface": lowface.__version__, "written": stamp}
    atomic_write_bytes(record_path(job.target), json.dumps(record, indent=1).encode())


def remove_partial_files(job: Job) -> None:
    """Temporary files of this output and of its record left by a killed earlier attempt (``.NAME.XXXX.part``)."""
    for name in (job.target.name, record_path(job.target).name):
        for stale in job.target.parent.glob(f".{name}.*.part*"):
            stale.unlink(missing_ok=True)


def drop_orphan_record(job: Job) -> None:
    """After a failure: a record whose output never appeared is removed (one beside an older output stays; it
    does not describe that file, so a rerun redoes it)."""
    if not job.target.exists():
        record_path(job.target).unlink(missing_ok=True)


def recording(job: Job, record: dict[str, Any], how: str = "enhanced") -> Callable[[Path], None]:
    """A ``before_commit`` hook for the video writers: record the finished temporary file's checksum."""
    return lambda partial: write_record(job, record, how, sha256_file(partial))
