"""The job plan of a batch, made and checked before any work: which input becomes which output.

Layout: a file input is written as ``OUTPUT/name``, a folder input's tree is kept below ``OUTPUT``; with
``tree=True`` every input keeps its path below the inputs' common folder instead. Two inputs that would land on
the same output are refused before anything runs. Files that carry a lowface record (:mod:`.records`) are lowface
outputs and are not taken as inputs when a folder is searched.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lowface.io import (
    IMAGE_SUFFIXES,
    LOSSY_SUFFIXES,
    VIDEO_SUFFIXES,
    WRITABLE_SUFFIXES,
    output_suffix,
)
from lowface.io.video_output import check_encode_speed, encoder_for

RECORD_SUFFIX = ".lowface.json"
TEMPORAL_FILTER = "motion-compensated"  # what --temporal-denoise runs (lowface.inference.temporal)


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path

    @property
    def is_video(self) -> bool:
        return self.source.suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class OutputOptions:
    """How outputs are written (part of each output's record, so a change redoes the output)."""

    quality: int = 95  # JPEG / WebP / HEIC / AVIF quality
    codec: str | None = None  # video codec (None: the container's default, see lowface.io.video)
    video_quality: int | None = None  # video CRF (None: the codec's default)
    temporal_frames: float | None = None  # video temporal noise reduction
    encode_speed: str = "balanced"  # the video encoder's speed, see lowface.io.video_output.ENCODE_SPEEDS

    def __post_init__(self) -> None:
        check_encode_speed(self.encode_speed)  # an unknown speed is refused before any work

    def for_job(self, job: Job) -> dict[str, Any]:
        if job.is_video:
            encoder, quality = encoder_for(job.target.suffix, self.codec, self.video_quality)
            record = {"encoder": encoder, "video_quality": quality, "temporal_frames": self.temporal_frames}
            if self.temporal_frames:  # (outputs of the filter that averaged in place, before 2026-12-06, are redone)
                record["temporal_filter"] = TEMPORAL_FILTER
            # (the default speed unrecorded: outputs made before the option existed are still made the same way)
            return record if self.encode_speed == "balanced" else {**record, "encode_speed": self.encode_speed}
        return {"quality": self.quality} if job.target.suffix.lower() in LOSSY_SUFFIXES else {}


def record_path(target: Path) -> Path:
    return target.with_name(f".{target.name}{RECORD_SUFFIX}")


def _media_files(folder: Path) -> tuple[list[Path], Counter[str]]:
    """Media files under ``folder`` (not hidden, not lowface outputs) and a count of the other files' suffixes."""
    found, others = [], Counter()
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            if not record_path(path).exists():
                found.append(path)
        else:
            others[path.suffix.lower() or "(no suffix)"] += 1
    return found, others


def plan_jobs(
    inputs: Iterable[str | Path],
    output: str | Path,
    out_format: str | None = None,
    suffix: str = "",
    tree: bool = False,
    unread: Counter[str] | None = None,
) -> list[Job]:
    """Map inputs (files or folders, searched recursively) to output paths; every check happens here, before any
    work: missing inputs, nothing to do, an output naming one file for several inputs or the wrong kind, two
    inputs landing on one output, an output overwriting an input or leaving ``output`` through a link. ``unread``,
    where given, is filled with the suffixes of the files in the input folders that are not images or videos this tool
    reads (what a run leaves out, for its summary).

    ``out_format`` (e.g. "png") replaces the images' suffix (camera RAW is written as .tif unless it says
    otherwise); ``suffix`` is added to each output's name (``photo.jpg`` -> ``photo_enh.jpg``)."""
    output = Path(output)
    inputs = [Path(p) for p in inputs]
    out_format = "." + out_format.lower().lstrip(".") if out_format else None
    single_file = output.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
    for source in inputs:
        if not source.exists():
            raise ValueError(f"{source}: no such file or folder")
    if single_file:
        if len(inputs) != 1 or not inputs[0].is_file():
            what = f"{inputs[0]} is a folder" if len(inputs) == 1 else f"the inputs are {len(inputs)} files or folders"
            raise ValueError(f"-o {output} names one file, but {what}; give an output folder")
        _check_single(inputs[0], output, out_format)
    root = Path(os.path.commonpath([os.path.abspath(p.parent) for p in inputs])) if tree else None
    jobs: list[Job] = []
    others: Counter[str] = Counter() if unread is None else unread
    for source in inputs:
        if source.is_dir():
            files, skipped = _media_files(source)
            others.update(skipped)
            base = Path(os.path.abspath(source)) if root is None else root
            pairs = [(f, Path(os.path.abspath(f)).relative_to(base)) for f in files]
        elif source.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            place = Path(source.name) if root is None else Path(os.path.abspath(source)).relative_to(root)
            pairs = [(source, place)]
        else:
            raise ValueError(f"{source}: not an image or video this tool reads ({_known()})")
        for src, relative in pairs:
            jobs.append(Job(src, output if single_file else output / _output_name(relative, out_format, suffix)))
    if not jobs:
        found = ", ".join(f"{n} {s}" for s, n in others.most_common(5))
        raise ValueError(f"no images or videos found in {', '.join(map(str, inputs))}"
                         f"{f' (other files: {found})' if found else ''}; {_known()}")  # fmt: skip
    _check_targets(jobs, output, single_file)
    return jobs


def _known() -> str:
    return f"images: {' '.join(sorted(IMAGE_SUFFIXES))}; videos: {' '.join(sorted(VIDEO_SUFFIXES))}"


def _output_name(relative: Path, out_format: str | None, suffix: str) -> Path:
    source_suffix = relative.suffix.lower()
    if source_suffix in VIDEO_SUFFIXES:
        new_suffix = output_suffix(relative)
    elif out_format:
        new_suffix = out_format
    else:
        new_suffix = output_suffix(relative)
    return relative.with_name(relative.stem + suffix + new_suffix)


def _check_single(source: Path, output: Path, out_format: str | None) -> None:
    source_video = source.suffix.lower() in VIDEO_SUFFIXES
    target_video = output.suffix.lower() in VIDEO_SUFFIXES
    if source_video != target_video:
        kinds = ("a video", "an image") if source_video else ("an image", "a video")
        raise ValueError(f"{source} is {kinds[0]}; -o {output} names {kinds[1]} file")
    if (
        out_format
        and output.suffix.lower() != out_format
        and not (
            {output.suffix.lower(), out_format} <= {".jpg", ".jpeg", ".jfif", ".jpe"}
            or {output.suffix.lower(), out_format} <= {".tif", ".tiff"}
        )
    ):
        raise ValueError(f"--format {out_format.lstrip('.')} contradicts -o {output}; give one of them")
    if not target_video and output.suffix.lower() not in WRITABLE_SUFFIXES:
        raise ValueError(f"-o {output}: cannot write {output.suffix} images; use one of {sorted(WRITABLE_SUFFIXES)}")


def _check_targets(jobs: list[Job], output: Path, single_file: bool) -> None:
    sources = {os.path.realpath(j.source) for j in jobs}
    root = os.path.realpath(output)
    claimed: dict[str, Path] = {}
    for job in jobs:
        target = os.path.realpath(job.target)
        if target in sources:
            raise ValueError(f"{job.target}: output would overwrite an input; choose another output folder or --suffix")
        if not single_file and os.path.commonpath([root, target]) != root:  # a link in the output tree
            raise ValueError(f"{job.target}: resolves to {target}, outside the output folder {root}; refused")
        if target in claimed:
            raise ValueError(
                f"{claimed[target]} and {job.source} would both be written to {job.target}; use --tree to keep "
                "each input's path below their common folder, or enhance them separately"
            )
        claimed[target] = job.source
        if not job.is_video and job.target.suffix.lower() not in WRITABLE_SUFFIXES:
            raise ValueError(f"{job.target}: cannot write {job.target.suffix} images")
