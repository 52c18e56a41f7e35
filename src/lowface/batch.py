"""Enhancing files, folders and videos: the job plan (made and checked before any work), a record beside each
output of what made it (so a rerun redoes exactly what is missing or was made differently), atomic outputs, and
failures that do not stop a batch.

Layout: a file input is written as ``OUTPUT/name``, a folder input's tree is kept below ``OUTPUT``; with
``tree=True`` every input keeps its path below the inputs' common folder instead. Two inputs that would land on
the same output are refused before anything runs. Each output ``x.jpg`` gets a record ``.x.jpg.lowface.json``
beside it (model, weights checksum, gate, strength, output options, the source's size and modification time);
files that carry such a record are lowface outputs and are not taken as inputs when a folder is searched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor
from tqdm import tqdm

import lowface
from lowface.api import Enhancer
from lowface.gate import GateSmoother
from lowface.io import (
    IMAGE_SUFFIXES,
    RAW_SUFFIXES,
    VIDEO_SUFFIXES,
    WRITABLE_SUFFIXES,
    ImageData,
    ImageReadError,
    atomic_write_bytes,
    encode_image,
    image_to_tensor,
    output_suffix,
    read_image,
    tensor_to_image,
)
from lowface.pretrained import sha256_file
from lowface.routing import RouteSmoother
from lowface.temporal import TemporalDenoiser
from lowface.video import encoder_for, transcode

RECORD_SUFFIX = ".lowface.json"


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

    quality: int = 95  # JPEG / WebP / HEIC quality
    codec: str | None = None  # video codec (None: the container's default, see lowface.video)
    video_quality: int | None = None  # video CRF (None: the codec's default)
    temporal_frames: float | None = None  # video temporal noise reduction

    def for_job(self, job: Job) -> dict[str, Any]:
        if job.is_video:
            encoder, quality = encoder_for(job.target.suffix, self.codec, self.video_quality)
            return {"encoder": encoder, "video_quality": quality, "temporal_frames": self.temporal_frames}
        return {"quality": self.quality} if job.target.suffix.lower() in (".jpg", ".jpeg", ".webp", ".heic") else {}


@dataclass
class BatchReport:
    done: list[Path] = field(default_factory=list)
    copied: list[Path] = field(default_factory=list)  # left alone by the gate: the input's bytes, unchanged
    skipped: list[Path] = field(default_factory=list)  # already made the same way
    kept: list[Path] = field(default_factory=list)  # exists without a record: not ours to replace
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.kept

    def as_dict(self) -> dict[str, Any]:
        return {
            "enhanced": [str(p) for p in self.done],
            "copied_unchanged": [str(p) for p in self.copied],
            "skipped_already_done": [str(p) for p in self.skipped],
            "kept_not_made_by_lowface": [str(p) for p in self.kept],
            "failed": [{"source": str(s), "error": m} for s, m in self.failed],
        }


# ---- planning ---------------------------------------------------------------------------------------------


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
) -> list[Job]:
    """Map inputs (files or folders, searched recursively) to output paths; every check happens here, before any
    work: missing inputs, nothing to do, an output naming one file for several inputs or the wrong kind, two
    inputs landing on one output, an output overwriting an input or leaving ``output`` through a link.

    ``out_format`` (e.g. "png") replaces the images' suffix (camera RAW is written as .tif unless it says
    otherwise); ``suffix`` is added to each output's name (``photo.jpg`` -> ``photo_enh.jpg``)."""
    output = Path(output)
    inputs = [Path(p) for p in inputs]
    out_format = "." + out_format.lower().lstrip(".") if out_format else None
    single_file = output.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
    if single_file:
        if len(inputs) != 1 or not inputs[0].is_file():
            raise ValueError(f"-o {output} names one file, but the inputs are {len(inputs)} files or folders; "
                             "give an output folder")  # fmt: skip
        _check_single(inputs[0], output, out_format)
    for source in inputs:
        if not source.exists():
            raise ValueError(f"{source}: no such file or folder")
    root = Path(os.path.commonpath([os.path.abspath(p.parent) for p in inputs])) if tree else None
    jobs: list[Job] = []
    others: Counter[str] = Counter()
    for source in inputs:
        if source.is_dir():
            files, skipped = _media_files(source)
            others += skipped
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
        new_suffix = relative.suffix
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
            {output.suffix.lower(), out_format} <= {".jpg", ".jpeg"}
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


# ---- records ------------------------------------------------------------------------------------------------


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


# ---- one file ---------------------------------------------------------------------------------------------


def enhance_image_file(
    enhancer: Enhancer,
    job: Job,
    quality: int = 95,
    compare: Path | None = None,
    before_write: Callable[[str, str], None] | None = None,
) -> str:
    """Enhance one image file into ``job.target``; returns "enhanced" or "copied" (the gate, or strength 0, left
    it alone and the output format is the input's: the input's bytes are written, unchanged). ``compare``: also
    write a side-by-side before / after JPEG there. ``before_write(how, sha256 of the output)`` runs just before
    the output appears (the batch writes the output's record there, so an output never exists without one)."""
    data = read_image(job.source)
    x = image_to_tensor(data.rgb)
    source_suffix = job.source.suffix.lower()
    same_format = source_suffix == job.target.suffix.lower() and source_suffix not in RAW_SUFFIXES
    gate = enhancer.gate.weight(x) if enhancer.gate is not None else None  # computed once, used twice
    weight = (gate if gate is not None else x.new_ones(x.shape[0])) * enhancer.strength
    if same_format and not bool(weight.any()):
        result, how, payload = data, "copied", job.source.read_bytes()
    else:
        result, how = data.with_rgb(tensor_to_image(enhancer.enhance_tensor(x, gate_weight=gate))), "enhanced"
        payload = encode_image(result, job.target.suffix, quality)
    if before_write is not None:
        before_write(how, hashlib.sha256(payload).hexdigest())
    atomic_write_bytes(job.target, payload)
    if compare is not None:
        atomic_write_bytes(compare, encode_image(side_by_side(data, result), ".jpg", 90))
    return how


def side_by_side(before: ImageData, after: ImageData, gap: int = 8) -> ImageData:
    """Before | after, one image (8-bit, white gap), for looking at a result."""
    height, width = before.size
    canvas = np.ones((height, 2 * width + gap, 3), np.float32)
    canvas[:, :width], canvas[:, width + gap :] = before.rgb, after.rgb
    return ImageData(canvas)


class FrameEnhancer:
    """One video stream through an enhancer, frame by frame, in order: optional temporal noise reduction of the
    input (:mod:`lowface.temporal`), the gate weight smoothed over frames (no flicker) and, for a routed model, the
    network choice smoothed with hysteresis (no switching back and forth)."""

    def __init__(self, enhancer: Enhancer, temporal_frames: float | None = None):
        self.enhancer = enhancer
        self.denoiser = TemporalDenoiser(temporal_frames) if temporal_frames else None
        self.gate = GateSmoother(enhancer.gate) if enhancer.gate is not None else None
        self.router = RouteSmoother(enhancer.model) if enhancer.routed else None

    def __call__(self, frame: Tensor) -> Tensor:
        """(1, 3, H, W) in [0, 1], the next frame -> its enhanced version."""
        x = self.denoiser(frame) if self.denoiser is not None else frame
        weight = self.gate(x) if self.gate is not None else None
        route = self.router(x) if self.router is not None else None
        return self.enhancer.enhance_tensor(x, gate_weight=weight, route=route)


def enhance_video_file(
    enhancer: Enhancer,
    job: Job,
    options: OutputOptions = OutputOptions(),
    show_progress: bool = True,
    before_commit: Callable[[Path], None] | None = None,
) -> int:
    """Every frame through :class:`FrameEnhancer`, written by :func:`lowface.video.transcode` (audio and
    subtitles copied, timestamps and rotation kept). Returns the number of frames."""
    stream = FrameEnhancer(enhancer, options.temporal_frames)

    def process(rgb: np.ndarray) -> np.ndarray:
        return tensor_to_image(stream(image_to_tensor(rgb)))

    def frames(items):
        return tqdm(items, desc=job.source.name, unit="item", leave=False, disable=not show_progress)

    return transcode(job.source, job.target, process, options.codec, options.video_quality, frames, before_commit)


# ---- the batch --------------------------------------------------------------------------------------------


def _progress(jobs: list[Job], name: str, show: str) -> Iterable[Job]:
    """A bar on a terminal; one line per file when stderr goes to a log; nothing when quiet."""
    if show == "bar":
        return tqdm(jobs, desc=f"enhance ({name})", unit="file")
    return jobs


def run_batch(
    enhancer: Enhancer,
    jobs: list[Job],
    overwrite: bool = False,
    options: OutputOptions = OutputOptions(),
    progress: str = "auto",
    compare: Path | None = None,
    output: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> BatchReport:
    """Enhance every job. An output made the same way from the same source (its record says so) is skipped; one
    made otherwise by lowface is redone; one without a record is kept (reported) unless ``overwrite``.

    ``progress``: "bar", "lines" (one line per file, for logs), "none", or "auto" (a bar when stderr is a
    terminal, else lines). ``compare``: a folder for side-by-side before / after images (images only), laid out
    like the outputs below ``output``."""
    if progress == "auto":
        progress = "bar" if sys.stderr.isatty() else "lines"
    say = log or (lambda message: tqdm.write(message, file=sys.stderr))
    report = BatchReport()
    for number, job in enumerate(_progress(jobs, enhancer.name, progress), 1):
        started = time.perf_counter()
        try:
            record = job_record(enhancer.recipe, job, options)
            state = "missing" if overwrite else output_state(job, record)
            if state == "same":
                report.skipped.append(job.target)
                continue
            if state == "foreign":
                report.kept.append(job.target)
                say(f"kept: {job.target} exists and was not made by lowface (no record); --overwrite replaces it")
                continue
            remove_partial_files(job)
            if job.is_video:
                frames = enhance_video_file(enhancer, job, options, progress == "bar", recording(job, record))
                how, detail = "enhanced", f"{frames} frames"
            else:
                side = None
                if compare is not None and output is not None and job.target != output:
                    side = (compare / job.target.relative_to(output)).with_suffix(".jpg")
                elif compare is not None:
                    side = compare / (job.target.stem + ".jpg")
                how = enhance_image_file(enhancer, job, options.quality, side, partial(write_record, job, record))
                detail = "copied unchanged (well exposed)" if how == "copied" else "enhanced"
        except (ImageReadError, OSError, ValueError, RuntimeError) as exc:
            message = str(exc) if str(job.source) in str(exc) else f"{job.source}: {exc}"
            report.failed.append((job.source, message))
            say(f"error: {message}")
            with contextlib.suppress(OSError):
                drop_orphan_record(job)
            continue
        (report.copied if how == "copied" else report.done).append(job.target)
        if progress == "lines":
            say(
                f"[{number}/{len(jobs)}] {job.source} -> {job.target}: {detail} ({time.perf_counter() - started:.1f} s)"
            )
    return report
