"""A long video in parallel pieces (one work item each, e.g. on Ray), joined into one file exactly as
:func:`lowface.io.video.transcode` would have written it. Segments are lossless RGB H.264 in Matroska."""

from __future__ import annotations

import bisect
import heapq
import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from lowface.io import ImageReadError
from lowface.io.files import atomic_write_bytes
from lowface.io.video import pipeline
from lowface.io.video_input import DecodeDamage, display_time, main_video_stream, open_input, probe_video
from lowface.io.video_output import (
    commit,
    copied_streams,
    create_output,
    encoder_for,
    video_stream,
    x264_options,
)

DAMAGE_SUFFIX = ".damaged"  # beside a segment that skipped damaged packets: how many (the frames it lacks)
SEGMENT_SUFFIX = ".mkv"  # lossless RGB H.264 (libx264rgb, CRF 0): exact frames, a fraction of their raw size


def frame_times(path: str | Path, damage: DecodeDamage | None = None) -> list[int]:
    """Every video frame's presentation timestamp (in the stream's time base), in display order, read from the
    packets without decoding; ImageReadError when a packet has none (such a file is not split). ``damage``, when
    given: told whether the stream is cut short of its file's header (:meth:`DecodeDamage.check_whole`)."""
    with open_input(path) as container:
        stream = main_video_stream(container, path)
        times = []
        for packet in container.demux(stream):
            if damage is not None:
                damage.count(packet)
            if packet.size:
                times.append(display_time(packet))
        if damage is not None:
            damage.check_whole(container, stream)
    if any(t is None for t in times):
        raise ImageReadError(path, "video packets without timestamps: it cannot be split into segments")
    return sorted(times)


def _frames_between(container, video, first: int, start: int, stop: int | None,
                    damage: DecodeDamage) -> Iterator[tuple[str, Any]]:  # fmt: skip
    """Frames with first <= pts < stop: those before ``start`` as "warmup", the rest as "frame"; and an interlaced
    source's frame at ``stop`` as "warmup", the deinterlacer's look-ahead for the segment's last frame
    (:mod:`.video_fields`), so that it is deinterlaced as in the whole file. Damaged packets skipped (``damage``)."""
    container.seek(first, stream=video, backward=True, any_frame=False)
    for frame in damage.frames(container, video):
        if frame.pts is None or frame.pts < first:
            continue
        if stop is not None and frame.pts >= stop:
            if frame.interlaced_frame:
                yield "warmup", frame
            return
        yield ("warmup" if frame.pts < start else "frame"), frame


def encode_segment(
    source: str | Path,
    target: str | Path,
    process: Callable[[np.ndarray], np.ndarray],
    start: int,
    stop: int | None,
    warmup_from: int,
    damage: DecodeDamage | None = None,
) -> int:
    """Process the frames of ``source`` with start <= pts < stop (None: to the end) into a lossless segment file,
    timestamps kept; the frames from ``warmup_from`` to ``start`` go through ``process`` first and are dropped,
    so that stateful filters (temporal denoising, smoothed gate and router) arrive settled. Atomic. Damaged packets
    are skipped; those timed in [start, stop) go into ``damage``."""
    target = Path(target)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part{SEGMENT_SUFFIX}")
    with open_input(source) as container, create_output(partial, target) as output:
        video = main_video_stream(container, source)
        video.thread_type = "AUTO"
        stream = output.add_stream("libx264rgb", rate=video.average_rate or video.guessed_rate or Fraction(25))
        stream.width, stream.height = video.codec_context.width, video.codec_context.height
        stream.pix_fmt = "rgb24"
        stream.time_base = stream.codec_context.time_base = video.time_base
        stream.options = x264_options({"crf": "0", "preset": "ultrafast"})
        skipped = DecodeDamage()
        items = _frames_between(container, video, warmup_from, start, stop, skipped)
        written = pipeline(items, output, stream, {}, video.time_base, process, None)
        end = float("inf") if stop is None else float(stop * video.time_base)
        own = [t for t in skipped.times if t is None or float(start * video.time_base) <= t < end]
    if damage is not None:  # the segment's own: a warm-up's and a look-ahead's belong to its neighbours
        damage.times += own
    counted = target.with_name(target.name + DAMAGE_SUFFIX)  # beside the segment, for the join (also on a rerun)
    if own:
        atomic_write_bytes(counted, str(len(own)).encode())
    else:
        counted.unlink(missing_ok=True)
    os.replace(partial, target)
    return written


def _segment_frames(segments: list[Path], times: list[int], time_base: Fraction,
                    damaged: int = 0) -> Iterator[tuple[float, str, Any]]:  # fmt: skip
    """The segments' frames in order, each given the source's timestamp of its place (``times``, display order: the
    nearest to the frame's own, which a segment container's clock may have rounded - Matroska counts milliseconds).
    At most ``damaged`` source frames may be missing (skipped as damaged packets); any other gap, a frame out of order
    or one the source does not have is an error."""
    seconds = [float(t * time_base) for t in times]
    used, last = 0, -1
    for path in segments:
        with open_input(path) as container:
            for frame in container.decode(container.streams.video[0]):
                time = float(frame.pts * frame.time_base)
                place = _nearest(seconds, time)
                if place is None or place <= last:
                    raise ValueError(f"{path}: a frame at {time:.3f} s that the source does not have in that place")
                frame.pts, last, used = times[place], place, used + 1
                yield seconds[place], "frame", frame
    if len(times) - used > damaged:
        raise ValueError(f"the segments hold {used} frames, the source {len(times)}: a segment is incomplete")


def _nearest(seconds: list[float], time: float, tolerance: float = 0.001) -> int | None:
    """The index of the time in sorted ``seconds`` nearest to ``time``, within ``tolerance``, or None."""
    if not seconds:
        return None
    right = bisect.bisect_left(seconds, time)
    found = min((i for i in (right - 1, right) if 0 <= i < len(seconds)), key=lambda i: abs(seconds[i] - time))
    return found if abs(seconds[found] - time) <= tolerance else None


def _other_packets(container, others: list) -> Iterator[tuple[float, str, Any]]:
    if not others:  # (demux() of no stream demuxes them all)
        return
    for packet in container.demux(others):
        if packet.dts is not None:
            yield float(packet.dts * packet.time_base), "packet", packet


def join_segments(
    source: str | Path,
    segments: list[Path],
    target: str | Path,
    codec: str | None = None,
    quality: int | None = None,
    before_commit: Callable[[Path], None] | None = None,
    speed: str = "balanced",
) -> int:
    """Encode the frames of ``segments`` (in order) into ``target`` as :func:`transcode` would have written them,
    with the other streams of ``source`` copied, interleaved by time. Atomic (``before_commit`` as in
    :func:`transcode`); as many frames may be missing as the segments skipped damaged packets (their
    ``DAMAGE_SUFFIX`` files). Returns the number of frames."""
    target = Path(target)
    encoder, quality = encoder_for(target.suffix, codec, quality)
    rotation = probe_video(source).rotation
    partial = target.with_name(f".{target.name}.{os.getpid()}.part{target.suffix}")
    with open_input(source) as container, create_output(partial, target) as output:
        video = main_video_stream(container, source)
        stream = video_stream(output, video, encoder, quality, rotation, speed)
        copies = copied_streams(output, container, video, source, target)
        damaged = sum(int(path.read_text()) for segment in segments
                      if (path := segment.with_name(segment.name + DAMAGE_SUFFIX)).exists())  # fmt: skip
        frames = _segment_frames(segments, frame_times(source), video.time_base, damaged)
        others = _other_packets(container, [container.streams[index] for index in copies])
        merged = heapq.merge(frames, others, key=lambda item: item[0])
        items = ((kind, value) for _, kind, value in merged)
        written = pipeline(items, output, stream, copies, video.time_base, None, None)
    commit(partial, target, before_commit)
    return written
