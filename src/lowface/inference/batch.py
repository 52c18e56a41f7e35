"""Enhancing files, folders and videos: one file at a time (images, videos frame by frame) and the batch over a
job plan (:mod:`.jobs`), with a record beside each output (:mod:`.records`), atomic outputs, and failures that do
not stop a batch.

The module runs past 300 lines because the batch (images on worker threads, reported in job order) lives beside the
one-file functions it runs.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from lowface.inference.enhancer import Enhancer
from lowface.inference.exposure import ExposureSmoother
from lowface.inference.gate import GateSmoother
from lowface.inference.jobs import Job, OutputOptions
from lowface.inference.records import (
    drop_orphan_record,
    job_record,
    output_state,
    recording,
    remove_partial_files,
    write_record,
)
from lowface.inference.routing import RouteSmoother
from lowface.inference.statistics import SharedStatistics
from lowface.inference.temporal import TemporalDenoiser
from lowface.io import (
    RAW_SUFFIXES,
    ImageData,
    ImageReadError,
    atomic_write_bytes,
    encode_image,
    image_to_tensor,
    pixels_to_tensor,
    read_image,
    tensor_to_image,
    tensor_to_uint8,
    to_batch,
)
from lowface.io.animation import encode_animation, is_animated, read_animation
from lowface.io.heif import hdr_photo
from lowface.io.video import FrameStages, transcode
from lowface.io.video_input import DecodeDamage, VideoInfo, probe_video


@dataclass
class BatchReport:
    done: list[Path] = field(default_factory=list)
    copied: list[Path] = field(default_factory=list)  # left alone by the gate: the input's bytes, unchanged
    skipped: list[Path] = field(default_factory=list)  # already made the same way
    kept: list[Path] = field(default_factory=list)  # exists without a record: not ours to replace
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[tuple[Path, str]] = field(default_factory=list)  # done, with something to say (damaged packets, HDR)

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
            "notes": [{"source": str(s), "note": m} for s, m in self.notes],
        }


# ---- records ------------------------------------------------------------------------------------------------


# ---- one file ---------------------------------------------------------------------------------------------


def enhance_image_file(
    enhancer: Enhancer,
    job: Job,
    quality: int = 95,
    compare: Path | None = None,
    before_write: Callable[[str, str], None] | None = None,
    turn: Callable[[int], contextlib.AbstractContextManager] | None = None,
) -> str:
    """Enhance one image file into ``job.target``; returns "enhanced" or "copied" (the gate, or strength 0, left
    it alone and the output format is the input's: the input's bytes are written, unchanged). ``compare``: also
    write a side-by-side before / after JPEG there. ``before_write(how, sha256 of the output)`` runs just before
    the output appears (the batch writes the output's record there, so an output never exists without one).
    ``turn(pixels)``: a context the computation runs in (the batch's :class:`ImageTurns`). An animated GIF, APNG
    or WebP is enhanced whole (:func:`_animation_result`)."""
    made = _animation_result if is_animated(job.source) else _still_result
    how, payload, before, after = made(enhancer, job, quality, turn or (lambda _pixels: contextlib.nullcontext()))
    if before_write is not None:
        before_write(how, hashlib.sha256(payload).hexdigest())
    atomic_write_bytes(job.target, payload)
    if compare is not None:
        atomic_write_bytes(compare, encode_image(side_by_side(before, after), ".jpg", 90))
    return how


Made = tuple[str, bytes, ImageData, ImageData]  # how, the output's bytes, before and after (a picture of each)


def _still_result(enhancer: Enhancer, job: Job, quality: int, turn: Callable[[int], Any]) -> Made:
    data = read_image(job.source)
    x = image_to_tensor(data.rgb)
    source_suffix = job.source.suffix.lower()
    same_format = source_suffix == job.target.suffix.lower() and source_suffix not in RAW_SUFFIXES
    with turn(x.shape[-2] * x.shape[-1]):
        gate = enhancer.gate.weight(x) if enhancer.gate is not None else None  # computed once, used twice
        weight = (gate if gate is not None else x.new_ones(x.shape[0])) * enhancer.strength
        copy = same_format and not bool(weight.any())
        enhanced = None if copy else tensor_to_image(enhancer.enhance_tensor(x, gate_weight=gate))
    if enhanced is None:
        return "copied", job.source.read_bytes(), data, data
    result = data.with_rgb(enhanced)
    return "enhanced", encode_image(result, job.target.suffix, quality), data, result


def _animation_result(enhancer: Enhancer, job: Job, quality: int, turn: Callable[[int], Any]) -> Made:
    """An animation's frames in order through :class:`FrameEnhancer` (gate, routing and exposure smoothed as in a
    video: no flicker), alpha untouched, written in the target's format with the durations and loop count kept;
    "copied" where the gate leaves every frame alone and the format is the input's. Before / after: the first
    frames."""
    animation = read_animation(job.source)
    stream = FrameEnhancer(enhancer)
    height, width = animation.frames[0].shape[:2]
    frames, moved = [], False
    with turn(height * width):
        for rgba in animation.frames:
            prepared = stream.prepare(pixels_to_tensor(np.ascontiguousarray(rgba[..., :3])))
            weight = prepared[1] if prepared[1] is not None else torch.ones(1)
            moved = moved or bool((weight * enhancer.strength).any())
            frames.append(np.dstack([tensor_to_uint8(stream.finish(prepared)[0]), rgba[..., 3]]))
    before, after = (ImageData(rgba[..., :3] / np.float32(255)) for rgba in (animation.frames[0], frames[0]))
    if not moved and job.source.suffix.lower() == job.target.suffix.lower():
        return "copied", job.source.read_bytes(), before, before
    payload = encode_animation(replace(animation, frames=frames), job.target.suffix, quality)
    return "enhanced", payload, before, after


def side_by_side(before: ImageData, after: ImageData, gap: int = 8) -> ImageData:
    """Before | after, one image (8-bit, white gap), for looking at a result."""
    height, width = before.size
    canvas = np.ones((height, 2 * width + gap, 3), np.float32)
    canvas[:, :width], canvas[:, width + gap :] = before.rgb, after.rgb
    return ImageData(canvas)


class FrameEnhancer:
    """One video stream through an enhancer, frame by frame, in order (what ``lowface enhance`` runs on a video, and
    the way to enhance a live stream: a camera, an RTSP feed): optional temporal noise reduction of the
    input (:mod:`lowface.inference.temporal`), the gate weight smoothed over frames (no flicker) and, for a
    routed model, its router's probability smoothed (with hysteresis where it chooses one: no switching
    back and forth) and the brightness its exposure target predicts smoothed over frames. All measure every
    ``MEASURE_EVERY``-th frame with the same time constant (about ten frames): at 1080p on two threads the gate's
    statistics and the router's noise estimate took 0.05 s a frame beside lowface-fast's 0.13 s.

    ``prepare`` (the state that runs from frame to frame) must see the frames in order; ``finish`` (the network)
    may run for several prepared frames at once."""

    MEASURE_EVERY = 4

    def __init__(self, enhancer: Enhancer, temporal_frames: float | None = None):
        self.enhancer = enhancer
        self.denoiser = TemporalDenoiser(temporal_frames) if temporal_frames else None
        self.statistics = SharedStatistics()  # one measurement of a frame for the three smoothers
        shared = {"every": self.MEASURE_EVERY, "statistics": self.statistics}
        self.gate = GateSmoother(enhancer.gate, **shared) if enhancer.gate is not None else None
        self.router = RouteSmoother(enhancer.model, **shared) if enhancer.routed else None
        target = enhancer.model.exposure if enhancer.routed else None
        self.exposure = ExposureSmoother(target, **shared) if target is not None else None

    @torch.inference_mode()  # grad mode is per thread and the pipeline's starts with it on: reference ops, 2.3x slower
    def prepare(self, frame: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
        """(1, 3, H, W) in [0, 1], the next frame -> (frame to enhance, gate weight, router probability to mix the
        networks by, predicted log mean luma)."""
        frame = frame.contiguous()  # (from an (H, W, 3) array: every step below is faster on torch's own layout)
        x = self.denoiser(frame) if self.denoiser is not None else frame
        self.statistics.clear()
        weight = self.gate(x) if self.gate is not None else None
        route = self.router(x) if self.router is not None else None
        exposure = self.exposure(x) if self.exposure is not None else None
        return x, weight, route, exposure

    def finish(self, prepared: tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]) -> Tensor:
        """:meth:`prepare`'s result -> the enhanced frame (1, 3, H, W)."""
        x, weight, route, exposure = prepared
        return self.enhancer.enhance_tensor(x, gate_weight=weight, route=route, exposure=exposure)

    def __call__(self, frame: Tensor) -> Tensor:
        """(1, 3, H, W) in [0, 1], the next frame -> its enhanced version."""
        return self.finish(self.prepare(frame))

    def enhance(self, frame: Any, bgr: bool = False) -> Any:
        """The next frame in any kind :meth:`Enhancer.enhance` takes - a NumPy frame from OpenCV's VideoCapture
        (``bgr=True``), a PIL image, a (3, H, W) tensor - enhanced, the same kind back."""
        batch, restore = to_batch(frame, bgr=bgr)
        if batch.shape[0] != 1:
            raise ValueError(f"one frame at a time, in order (got a batch of {batch.shape[0]})")
        return restore(self(batch))  # (on the CPU, as the video pipeline hands frames over: the enhancer moves them)


def image_notices(path: Path) -> list[str]:
    """What a user should know about an image's output: an HDR photo (a PQ or HLG HEIC) written as SDR."""
    hdr = hdr_photo(path)
    return [f"HDR photo ({hdr}): enhanced and written as SDR (BT.709)"] if hdr else []


def video_notices(info: VideoInfo) -> list[str]:
    """What a user should know before a video is enhanced: an HDR source's SDR output, data streams left out."""
    notices = [f"HDR video ({info.hdr}): enhanced and written as SDR (BT.709)"] if info.hdr else []
    data = [name.split(":", 1)[1] for name in info.other_streams if name.startswith("data:")]
    if data:
        notices.append(f"{len(data)} data stream(s) not copied ({', '.join(data)}; a timecode is kept as metadata)")
    return notices


def frames_at_once(enhancer: Enhancer) -> int:
    """How many video frames run through the network at once: two on a CPU with two or more threads, each on half
    of them (a 1080p frame through lowface-restore-real on 2 cores: 0.19 s a frame against 0.29 s for one frame on
    both: the network's single-threaded steps and the threads' hand-overs leave a core idle), one on a GPU."""
    return 2 if enhancer.device.type == "cpu" and torch.get_num_threads() >= 2 else 1


def thread_share(workers: int) -> Callable[[], None]:
    """What gives a worker thread its share of the calling thread's torch threads among ``workers`` (each worker
    thread's own OpenMP team, set before its first operation)."""
    return partial(torch.set_num_threads, max(1, torch.get_num_threads() // workers))


@contextlib.contextmanager
def computing_as_the_batch(enhancer: Enhancer) -> Iterator[Callable[[int], contextlib.AbstractContextManager]]:
    """This thread computing images as :func:`run_batch`'s workers do - on its share of the threads, a large image
    on all of them (:class:`ImageTurns`, whose ``run`` it yields as :func:`enhance_image_file`'s ``turn``) - so that
    its outputs are the bits ``lowface enhance`` writes where they depend on the thread count (float32 convolutions:
    CPUs without native bfloat16). The thread's own count is restored afterwards."""
    threads = torch.get_num_threads()
    thread_share(frames_at_once(enhancer))()
    try:
        yield ImageTurns(threads).run
    finally:
        torch.set_num_threads(threads)


def enhance_video_file(
    enhancer: Enhancer,
    job: Job,
    options: OutputOptions = OutputOptions(),
    show_progress: bool = True,
    before_commit: Callable[[Path], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> int:
    """Every frame through :class:`FrameEnhancer` (:func:`frames_at_once` frames at a time), written by
    :func:`lowface.io.video.transcode` (audio and subtitles copied, timestamps and rotation kept). Damaged packets
    in the source are skipped and said once, and so is a source cut short of its header, to ``notice`` (or as a
    Python warning naming the file). Returns the number of frames."""
    stream = FrameEnhancer(enhancer, options.temporal_frames)
    threads = torch.get_num_threads()
    workers = frames_at_once(enhancer)
    per_frame_threads = thread_share(workers)

    stages = FrameStages(
        prepare=lambda rgb: stream.prepare(pixels_to_tensor(rgb)),
        finish=lambda prepared: tensor_to_uint8(stream.finish(prepared)[0]),  # 8 bits here, on the worker
        workers=workers,
        setup=per_frame_threads,
    )

    frames = partial(tqdm, desc=job.source.name, unit="item", leave=False, disable=not show_progress)
    per_frame_threads()  # the frames' preparation here, beside the workers
    damage = DecodeDamage()
    try:
        written = transcode(job.source, job.target, stages, options.codec, options.video_quality, frames,
                            before_commit, options.encode_speed, damage)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    for said in damage.notices():
        if notice is None:
            warnings.warn(f"{job.source}: {said}", stacklevel=2)
        else:
            notice(said)
    return written


def needs_work(job: Job, recipe: dict[str, Any], options: OutputOptions, overwrite: bool, report: BatchReport,
               say: Callable[[str], None] | None = None) -> dict[str, Any] | None:  # fmt: skip
    """The job's record when its output must be made; None when the output is already made the same way (added to
    ``report.skipped``) or exists without a record and ``overwrite`` is off (added to ``report.kept``, said)."""
    record = job_record(recipe, job, options)
    state = "missing" if overwrite else output_state(job, record)
    if state == "same":
        report.skipped.append(job.target)
        return None
    if state == "foreign":
        report.kept.append(job.target)
        if say is not None:
            say(f"kept: {job.target} exists and was not made by lowface (no record); --overwrite replaces it")
        return None
    return record


def make_image_output(enhancer: Enhancer, job: Job, record: dict[str, Any], quality: int = 95,
                      side: Path | None = None,
                      turn: Callable[[int], contextlib.AbstractContextManager] | None = None) -> str:  # fmt: skip
    """One image job from start to end, as every runner does it (here and on Ray): temporaries of a killed earlier
    attempt removed, the output and its record written (:func:`enhance_image_file`), and after a failure a record
    whose output never appeared removed. Returns "enhanced" or "copied"."""
    remove_partial_files(job)
    try:
        return enhance_image_file(enhancer, job, quality, side, partial(write_record, job, record), turn)
    except BaseException:
        with contextlib.suppress(OSError):
            drop_orphan_record(job)
        raise


class ImageTurns:
    """Which images of a batch compute at once: images of up to ``SHARED_PIXELS`` pixels two at a time, on the worker
    threads' one torch thread each; a larger image waits until none runs and then runs alone, on ``threads``. A
    folder of 300 640x480 JPEGs through the default took 17 s one at a time on two threads, 8.8 s two at a time;
    four 12-megapixel photos two at a time took 15.7 s instead of 12.0 s, at 5.1 GB instead of 3.2."""

    SHARED_PIXELS = 4_000_000

    def __init__(self, threads: int):
        self.threads = threads
        self._changed = threading.Condition()
        self._small, self._large = 0, False
        self._waits = threading.local()

    def waited(self) -> float:
        """Seconds this thread has waited for its turns since it last asked, reset to zero (what a file's reported
        time leaves out: a small image queued behind a large one took its own time, not the large one's)."""
        seconds, self._waits.seconds = getattr(self._waits, "seconds", 0.0), 0.0
        return seconds

    @contextlib.contextmanager
    def run(self, pixels: int) -> Iterator[None]:
        """The context one image of ``pixels`` pixels computes in."""
        large = pixels > self.SHARED_PIXELS
        asked = time.perf_counter()
        with self._changed:
            self._changed.wait_for(lambda: not self._large and not (large and self._small))
            self._large, self._small = self._large or large, self._small + (not large)
        self._waits.seconds = getattr(self._waits, "seconds", 0.0) + time.perf_counter() - asked
        own = torch.get_num_threads()
        if large:
            torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            if large:
                torch.set_num_threads(own)
            with self._changed:
                self._large, self._small = self._large and not large, self._small - (not large)
                self._changed.notify_all()


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
    workers = frames_at_once(enhancer)
    turns = ImageTurns(torch.get_num_threads())  # a large image gets this thread's threads
    pending: collections.deque = collections.deque()  # images at work: (number, job, Future), in job order

    def fail(job: Job, exc: Exception) -> None:
        """Report a job's failure; the batch goes on."""
        expected = isinstance(exc, (ImageReadError, OSError, ValueError, RuntimeError))
        message = str(exc) if expected else f"internal error ({type(exc).__name__}: {exc}), please report it"
        message = message if str(job.source) in message else f"{job.source}: {message}"
        report.failed.append((job.source, message))
        say(f"error: {message}")
        with contextlib.suppress(OSError):
            drop_orphan_record(job)

    def conclude(number: int, job: Job, outcome: Callable[[], tuple[tuple[str, str] | None, float]]) -> None:
        """Report one job: ``outcome()`` -> ((how, detail), the seconds its work took), None for a job that needed no
        work, or the error it raised."""
        try:
            result, seconds = outcome()
        except Exception as exc:  # reported for this file; the batch goes on
            fail(job, exc)
            return
        if result is None:
            return
        how, detail = result
        (report.copied if how == "copied" else report.done).append(job.target)
        if progress == "lines":  # (its own time: not the time it waited behind a large image for a worker)
            say(f"[{number}/{len(jobs)}] {job.source} -> {job.target}: {detail} ({seconds:.1f} s)")

    def timed(work: Callable[..., tuple[str, str] | None], *args) -> tuple[tuple[str, str] | None, float]:
        """``work(*args)`` and the seconds it took, less any wait for its turn (:meth:`ImageTurns.waited`)."""
        turns.waited()
        start = time.perf_counter()
        result = work(*args)
        return result, time.perf_counter() - start - turns.waited()

    def settle(limit: int) -> None:
        """Report the oldest images while more than ``limit`` are at work."""
        while len(pending) > limit:
            number, job, future = pending.popleft()
            conclude(number, job, future.result)

    def image(job: Job, record: dict[str, Any]) -> tuple[str, str]:
        side = None
        if compare is not None and output is not None and job.target != output:
            side = (compare / job.target.relative_to(output)).with_suffix(".jpg")
        elif compare is not None:
            side = compare / (job.target.stem + ".jpg")
        how = make_image_output(enhancer, job, record, options.quality, side, turns.run)
        for notice in image_notices(job.source) if how == "enhanced" else ():
            report.notes.append((job.source, notice))
            say(f"{job.source}: {notice}")
        return how, "copied unchanged (well exposed)" if how == "copied" else "enhanced"

    def video(job: Job) -> tuple[str, str] | None:
        record = needs_work(job, enhancer.recipe, options, overwrite, report, say)
        if record is None:
            return None
        remove_partial_files(job)

        def note(notice: str) -> None:
            report.notes.append((job.source, notice))
            say(f"{job.source}: {notice}")

        for notice in video_notices(probe_video(job.source)):
            note(notice)
        frames = enhance_video_file(enhancer, job, options, progress == "bar", recording(job, record), note)
        return "enhanced", f"{frames} frames"

    # images two at a time on one thread each on a CPU, as video frames are; a large one alone (ImageTurns)
    with ThreadPoolExecutor(workers, "lowface-image", thread_share(workers)) as pool:
        try:
            for number, job in enumerate(_progress(jobs, enhancer.name, progress), 1):
                if job.is_video:
                    settle(0)  # a video gets every core, and its own frame workers
                    conclude(number, job, partial(timed, video, job))
                    continue
                try:
                    record = needs_work(job, enhancer.recipe, options, overwrite, report, say)
                except Exception as exc:
                    fail(job, exc)
                    continue
                if record is not None:
                    pending.append((number, job, pool.submit(timed, image, job, record)))
                    settle(workers)  # one image more than the workers: none waits for work
            settle(0)
        finally:
            for *_, future in pending:  # interrupted: nothing new starts
                future.cancel()
    return report
