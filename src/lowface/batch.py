"""Enhancing files, folders and videos: job planning, resume, atomic output, failures that don't stop a batch."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor
from tqdm import tqdm

from lowface.api import Enhancer
from lowface.gate import GateSmoother
from lowface.io import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    ImageReadError,
    VideoWriter,
    image_to_tensor,
    probe_video,
    read_image,
    read_video_frames,
    tensor_to_image,
    write_image,
)
from lowface.routing import RouteSmoother
from lowface.temporal import TemporalDenoiser


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path

    @property
    def is_video(self) -> bool:
        return self.source.suffix.lower() in VIDEO_SUFFIXES


@dataclass
class BatchReport:
    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _media_files(folder: Path) -> list[Path]:
    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
    )


def plan_jobs(inputs: Iterable[str | Path], output: str | Path, out_format: str | None = None) -> list[Job]:
    """Map inputs (files or folders, searched recursively) to output paths under ``output``.

    A folder's tree is kept below ``output``; a single file input with an image ``output`` suffix is written
    to exactly that path. ``out_format`` (e.g. "png") replaces the image suffix. Raises ValueError when an
    input is missing, an output would overwrite an input, or an output would land outside ``output`` (through
    a symbolic link inside it).
    """
    output = Path(output)
    inputs = [Path(p) for p in inputs]
    single_file = len(inputs) == 1 and inputs[0].is_file() and output.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
    jobs: list[Job] = []
    for source in inputs:
        if source.is_dir():
            pairs = [(f, output / f.relative_to(source)) for f in _media_files(source)]
        elif source.is_file():
            pairs = [(source, output if single_file else output / source.name)]
        else:
            raise ValueError(f"{source}: no such file or folder")
        for src, dst in pairs:
            if out_format and src.suffix.lower() in IMAGE_SUFFIXES and not single_file:
                dst = dst.with_suffix("." + out_format.lower().lstrip("."))
            jobs.append(Job(src, dst))
    sources = {os.path.realpath(j.source) for j in jobs}
    root = os.path.realpath(output)
    for job in jobs:
        target = os.path.realpath(job.target)
        if target in sources:
            raise ValueError(f"{job.target}: output would overwrite an input; choose another output folder")
        if not single_file and os.path.commonpath([root, target]) != root:  # a link in the output tree
            raise ValueError(f"{job.target}: resolves to {target}, outside the output folder {root}; refused")
    return jobs


def enhance_image_file(enhancer: Enhancer, job: Job, quality: int = 95) -> None:
    data = read_image(job.source)
    enhanced = enhancer.enhance_tensor(image_to_tensor(data.rgb))
    write_image(job.target, data.with_rgb(tensor_to_image(enhanced)), quality)


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
    enhancer: Enhancer, job: Job, show_progress: bool = True, temporal_frames: float | None = None
) -> None:
    """Frame by frame (:class:`FrameEnhancer`); ``temporal_frames``: temporal noise reduction of the input."""
    count, fps, size = probe_video(job.source)
    writer = VideoWriter(job.target, fps, size)
    stream = FrameEnhancer(enhancer, temporal_frames)
    try:
        frames = tqdm(
            read_video_frames(job.source),
            total=count or None,
            desc=job.source.name,
            unit="frame",
            leave=False,
            disable=not show_progress,
        )
        for frame in frames:
            writer.write(tensor_to_image(stream(image_to_tensor(frame))))
    except BaseException:
        writer.abort()
        raise
    writer.close()


def run_batch(
    enhancer: Enhancer,
    jobs: list[Job],
    overwrite: bool = False,
    quality: int = 95,
    show_progress: bool = True,
    temporal_frames: float | None = None,
) -> BatchReport:
    """Enhance every job; existing outputs are skipped unless ``overwrite`` (so a rerun resumes);
    ``temporal_frames`` turns on temporal noise reduction for videos."""
    report = BatchReport()
    bar = tqdm(jobs, desc=f"enhance ({enhancer.name})", unit="file", disable=not show_progress)
    for job in bar:
        if job.target.exists() and not overwrite:
            report.skipped.append(job.target)
            continue
        for stale in job.target.parent.glob(f".{job.target.name}.*.part"):  # left by a killed earlier run
            stale.unlink(missing_ok=True)
        try:
            if job.is_video:
                enhance_video_file(enhancer, job, show_progress, temporal_frames)
            else:
                enhance_image_file(enhancer, job, quality)
        except (ImageReadError, OSError, ValueError, RuntimeError) as exc:
            message = str(exc) if str(job.source) in str(exc) else f"{job.source}: {exc}"
            report.failed.append((job.source, message))
            bar.write(f"error: {message}")
        else:
            report.done.append(job.target)
    return report
