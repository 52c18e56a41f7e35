"""Video files through FFmpeg (PyAV): every frame decoded, processed and encoded in order with its own timestamp
(variable frame rates kept, frame-accurate), audio and subtitles copied packet for packet (data streams left out,
the timecode and display rotation kept as metadata), H.264 / VP9 / AV1 / MPEG-4 with a quality setting.

Decoding, the network and encoding overlap: a reader thread demuxes, decodes, deinterlaces (:mod:`.video_fields`)
and converts each frame to RGB (:mod:`.video_colour`), a writer thread converts the results back to 8 bits, encodes
and muxes, the caller's thread runs ``process`` on each frame (or prepares each frame in order and worker threads
finish several at once, :class:`FrameStages`); bounded queues between them keep memory to a few frames whatever
the length of the video. FFmpeg's codecs and PyTorch release the GIL, so a long video takes about as long as its
slowest stage. Writing the container (codecs, streams, atomic commit) is :mod:`.video_output`; a long video in
parallel segments is :mod:`.video_segments`.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from lowface.io import ImageReadError, as_float, pixels_to_uint8
from lowface.io.video_colour import decoded_pixels, encodable
from lowface.io.video_fields import deinterlaced
from lowface.io.video_input import DecodeDamage, main_video_stream, open_input, probe_video
from lowface.io.video_output import (
    AudioRecode,
    commit,
    copied_streams,
    create_output,
    encoder_for,
    in_decode_order,
    video_stream,
)

QUEUE_FRAMES = 2  # frames held between two stages, per queue: decoded (12 MB at 1080p), processed (25 MB)
_END = object()


def _reader(items: Iterator, out: queue.Queue, stop: threading.Event) -> None:
    """Run an item generator in this thread, handing each item on (and any error, to the caller's thread)."""
    try:
        for item in items:
            if stop.is_set():
                return
            out.put(item)
        out.put(_END)
    except BaseException as exc:  # handed to the caller's thread
        out.put(("error", exc))


def _demuxed(container, video, others: list, damage: DecodeDamage) -> Iterator[tuple[str, Any]]:
    """A file in order: decoded video frames as ("frame", frame) (damaged packets skipped, into ``damage``), the
    packets of the streams ``others`` as ("packet", packet)."""
    for packet in container.demux([video, *others]):
        if packet.stream is video:
            for frame in damage.decode(packet):
                yield "frame", frame
        elif packet.dts is not None:  # the demuxer's final empty packets carry nothing
            yield "packet", packet


def _with_pixels(items: Iterator) -> Iterator[tuple[str, Any]]:
    """Items with each decoded frame's RGB pixels (:func:`decoded_pixels`) beside it: (kind, (VideoFrame, pixels)).
    Runs in the reader thread (swscale releases the GIL)."""
    for kind, value in items:
        if kind in ("frame", "warmup"):
            value = (value, decoded_pixels(value))
        yield kind, value


def _writer(output: av.container.OutputContainer, stream: av.video.stream.VideoStream, copies: dict,
            time_base: Fraction, items: queue.Queue, failure: list) -> None:  # fmt: skip
    item = None
    try:
        while (item := items.get()) is not _END:
            kind, value = item
            if kind == "frame":
                pts, pixels = value
                pixels = pixels_to_uint8(pixels)  # integer pixels: not processed
                frame = encodable(av.VideoFrame.from_ndarray(pixels, format="rgb24"), stream)
                frame.pts, frame.time_base = pts, time_base
                for packet in stream.encode(frame):
                    output.mux(in_decode_order(packet))
            elif isinstance(target := copies[value.stream.index], AudioRecode):
                for packet in target.recode(value):
                    output.mux(packet)
            else:
                value.stream = target
                output.mux(value)
        for packet in stream.encode(None):  # flush the encoders
            output.mux(in_decode_order(packet))
        for target in copies.values():
            if isinstance(target, AudioRecode):
                for packet in target.output.encode(None):
                    output.mux(packet)
    except BaseException as exc:
        failure.append(exc)
        while item is not _END:  # drain so the producer never blocks (the end may be in already: a failed flush)
            item = items.get()


def _put(items: queue.Queue, item, failure: list) -> None:
    while True:
        if failure:
            raise failure[0]
        try:
            items.put(item, timeout=0.5)
            return
        except queue.Full:
            continue


@dataclass(frozen=True)
class FrameStages:
    """A frame's processing in two steps: ``prepare`` ((H, W, 3) RGB as decoded, :func:`decoded_pixels` -> anything)
    runs for every frame in order, in the pipeline's thread (what carries state from frame to frame: smoothing, temporal
    filters); ``finish`` (that -> the (H, W, 3) result) may run for up to ``workers`` frames at once on worker
    threads (the network: on a CPU, two frames on one core each got through 1.5x as many frames a second as one
    frame on two cores). The results are written in frame order."""

    prepare: Callable[[np.ndarray], Any]
    finish: Callable[[Any], np.ndarray]
    workers: int = 1
    setup: Callable[[], None] | None = None  # runs once on each worker thread, first


def pipeline(
    items: Iterator,
    output: av.container.OutputContainer,
    stream,
    copies: dict,
    time_base: Fraction,
    process: Callable[[np.ndarray], np.ndarray] | FrameStages | None,
    frames: Callable[[Iterator], Iterator] | None,
) -> int:
    """Items -> reader thread -> ``process`` here (or :class:`FrameStages`: prepared here, finished on worker
    threads) -> writer thread. Items: ("frame", VideoFrame) is processed and written, ("warmup", VideoFrame) only
    processed (the stateful video filters settle; nothing is written), ("packet", Packet) copied to its stream in
    ``copies``, in its place among the frames; frames without a timestamp (a raw H.264 stream) are placed at the
    stream's frame rate. Returns the number of frames written."""
    if isinstance(process, FrameStages):
        stages = process
    else:  # a plain ``process`` sees float32 RGB in [0, 1]
        stages = FrameStages(_unchanged if process is None else lambda rgb: process(as_float(rgb)), _unchanged)
    untimed_step = max(1, round(1 / ((stream.codec_context.framerate or Fraction(25)) * time_base)))  # raw H.264
    stop, failure = threading.Event(), []
    decoded: queue.Queue = queue.Queue(QUEUE_FRAMES)
    encoded: queue.Queue = queue.Queue(QUEUE_FRAMES)
    pixels = _with_pixels(deinterlaced(items))
    reader = threading.Thread(target=_reader, args=(pixels, decoded, stop), daemon=True)
    writer = threading.Thread(target=_writer, args=(output, stream, copies, time_base, encoded, failure), daemon=True)
    workers = ThreadPoolExecutor(stages.workers, "lowface-frame", stages.setup) if stages.workers > 1 else None
    pending: collections.deque = collections.deque()  # (kind, value or VideoFrame, result or Future), in order
    in_flight, written = 0, 0

    def write_ready(limit: int) -> None:
        """Hand the finished head of ``pending`` to the writer while more than ``limit`` frames are in flight
        (waiting for the oldest), and any packets that come before the next frame still at work."""
        nonlocal in_flight, written
        while pending and (pending[0][0] == "packet" or in_flight > limit):
            kind, value, result = pending.popleft()
            if kind != "packet":
                in_flight -= 1
                rgb = result.result() if isinstance(result, Future) else result
                if kind == "warmup":
                    continue
                value = (value.pts if value.pts is not None else written * untimed_step, rgb)
                written += 1
            _put(encoded, (kind, value), failure)

    reader.start()
    writer.start()
    try:
        queued = iter(decoded.get, _END)
        for kind, value in frames(queued) if frames is not None else queued:
            if kind == "error":
                raise value
            if kind in ("frame", "warmup"):
                source, rgb = value
                prepared = stages.prepare(rgb)
                result = workers.submit(stages.finish, prepared) if workers else stages.finish(prepared)
                pending.append((kind, source, result))
                in_flight += 1
            else:
                pending.append((kind, value, None))
            write_ready(stages.workers if workers else 0)  # one frame more than the workers: none waits for work
        write_ready(0)
    finally:
        stop.set()
        if workers is not None:
            workers.shutdown(wait=True, cancel_futures=True)
        while reader.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(queue.Empty):
                decoded.get(timeout=0.1)
        if writer.is_alive():
            encoded.put(_END)
            writer.join()
    if failure:
        raise failure[0]
    return written


def _unchanged(value: Any) -> Any:
    return value


def transcode(
    source: str | Path,
    target: str | Path,
    process: Callable[[np.ndarray], np.ndarray] | FrameStages,
    codec: str | None = None,
    quality: int | None = None,
    frames: Callable[[Iterator], Iterator] | None = None,
    before_commit: Callable[[Path], None] | None = None,
    speed: str = "balanced",
    damage: DecodeDamage | None = None,
) -> int:
    """Write ``target`` (atomically: a temporary file renamed at the end) with every video frame of ``source``
    passed through ``process`` ((H, W, 3) float32 RGB in [0, 1] -> the same; or :class:`FrameStages`, several
    frames at once), other streams copied.

    ``frames`` may wrap the item iterator (a progress bar); ``before_commit(temporary file)`` runs when the file
    is complete, just before it is renamed to ``target``; ``speed``: the encoder's, one of
    :data:`lowface.io.video_output.ENCODE_SPEEDS`; video packets the decoder finds damaged are skipped and recorded
    in ``damage``, and so is a stream cut short of its file's header (:meth:`DecodeDamage.check_whole`). Returns the
    number of frames written."""
    target = Path(target)
    encoder, quality = encoder_for(target.suffix, codec, quality)
    rotation = probe_video(source).rotation
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part{target.suffix}")
    with open_input(source) as container, create_output(partial, target) as output:
        video = main_video_stream(container, source)
        video.thread_type = "AUTO"
        stream = video_stream(output, video, encoder, quality, rotation, speed)
        copies = copied_streams(output, container, video, source, target)
        damage = DecodeDamage() if damage is None else damage
        items = _demuxed(container, video, [container.streams[index] for index in copies], damage)
        written = pipeline(items, output, stream, copies, video.time_base, process, frames)
        if not written:
            raise ImageReadError(source, "the video stream holds no frame")
        damage.check_whole(container, video)
    commit(partial, target, before_commit)
    return written
