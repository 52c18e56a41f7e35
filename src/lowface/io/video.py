"""Video files through FFmpeg (PyAV): every frame decoded, processed and encoded in order with its own timestamp
(variable frame rates kept, frame-accurate), audio, subtitle and data streams copied packet for packet, the
display rotation kept as metadata, H.264 / VP9 / AV1 / MPEG-4 with a quality setting.

Decoding, the network and encoding overlap: a reader thread demuxes and decodes, a writer thread encodes and
muxes, the caller's thread runs ``process`` on each frame; bounded queues between them keep memory to a few
frames whatever the length of the video. FFmpeg's codecs release the GIL, so a long video takes about as long
as its slowest stage.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from lowface.io import MIN_SIDE, ImageReadError

# codec name -> (FFmpeg encoder, default quality as CRF; lower is better)
VIDEO_CODECS: dict[str, tuple[str, int]] = {
    "h264": ("libx264", 18),
    "vp9": ("libvpx-vp9", 30),
    "av1": ("libsvtav1", 30),
    "mpeg4": ("mpeg4", 4),  # no CRF: the number is MPEG-4's qscale (1 best .. 31)
}
# container suffix -> (default codec, codecs it can hold)
CONTAINERS: dict[str, tuple[str, tuple[str, ...]]] = {
    ".mp4": ("h264", ("h264", "av1", "vp9", "mpeg4")),
    ".m4v": ("h264", ("h264", "mpeg4")),
    ".mov": ("h264", ("h264", "mpeg4")),
    ".mkv": ("h264", ("h264", "vp9", "av1", "mpeg4")),
    ".webm": ("vp9", ("vp9", "av1")),
    ".avi": ("h264", ("h264", "mpeg4")),
}
QUEUE_FRAMES = 4  # frames held between two stages (each queue); memory stays at a few frames
_END = object()


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds. size: (height, width) of the stored frames (before display rotation)."""

    frames: int | None  # None when the container does not say
    fps: float
    size: tuple[int, int]
    rotation: int  # degrees the player turns the frames (counter-clockwise), 0 for none
    codec: str
    other_streams: tuple[str, ...]  # "audio:aac", "subtitle:mov_text", ...


def _open(path: str | Path) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ImageReadError(path, f"cannot open video ({type(exc).__name__}: {exc})") from None


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's header and first frame; raises ImageReadError (naming the file) when it is not a video
    FFmpeg can decode or its frames are smaller than 8x8."""
    with _open(path) as container:
        if not container.streams.video:
            raise ImageReadError(path, "no video stream in the file")
        stream = container.streams.video[0]
        height, width = stream.codec_context.height, stream.codec_context.width
        if min(height, width) < MIN_SIDE:
            raise ImageReadError(path, f"video frames are {width}x{height}; at least {MIN_SIDE}x{MIN_SIDE} needed")
        rotation = 0
        try:
            first = next(container.decode(stream))
            rotation = round(first.rotation or 0)
        except StopIteration:
            raise ImageReadError(path, "the video stream holds no frame") from None
        except av.error.FFmpegError as exc:
            raise ImageReadError(path, f"cannot decode video ({exc})") from None
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        others = tuple(f"{s.type}:{s.codec_context.name}" for s in container.streams if s is not stream)
        return VideoInfo(stream.frames or None, float(rate), (height, width), rotation, stream.codec_context.name,
                         others)  # fmt: skip


def encoder_for(suffix: str, codec: str | None = None, quality: int | None = None) -> tuple[str, int]:
    """(FFmpeg encoder, quality) for an output suffix and an optional codec name; ValueError (one line) when the
    container cannot hold the codec or this FFmpeg build lacks its encoder. Called before any work starts."""
    suffix = suffix.lower()
    if suffix not in CONTAINERS:
        raise ValueError(f"unsupported video output {suffix!r}; use one of {sorted(CONTAINERS)}")
    default, allowed = CONTAINERS[suffix]
    codec = codec or default
    if codec not in VIDEO_CODECS:
        raise ValueError(f"unknown video codec {codec!r}; use one of {sorted(VIDEO_CODECS)}")
    if codec not in allowed:
        raise ValueError(f"a {suffix} file cannot hold {codec}; use one of {', '.join(allowed)} (or another container)")
    encoder, default_quality = VIDEO_CODECS[codec]
    try:
        av.codec.Codec(encoder, "w")
    except av.error.FFmpegError:
        raise ValueError(f"this FFmpeg build has no {encoder} encoder for {codec}") from None
    quality = default_quality if quality is None else quality
    top = 31 if codec == "mpeg4" else 63
    if not (1 if codec == "mpeg4" else 0) <= quality <= top:
        raise ValueError(f"video quality for {codec} must be in 0..{top} (CRF; lower is better), got {quality}")
    return encoder, quality


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


def _demuxed(container, video, copy_others: bool = True) -> Iterator[tuple[str, Any]]:
    """A file in order: decoded video frames as ("frame", frame), other packets as ("packet", packet)."""
    for packet in container.demux():
        if packet.stream is video:
            for frame in packet.decode():
                yield "frame", frame
        elif copy_others and packet.dts is not None:  # the demuxer's final empty packets carry nothing
            yield "packet", packet


def _writer(output: av.container.OutputContainer, stream: av.video.stream.VideoStream, copies: dict,
            items: queue.Queue, failure: list) -> None:  # fmt: skip
    try:
        while (item := items.get()) is not _END:
            kind, value = item
            if kind == "frame":
                for packet in stream.encode(value):
                    output.mux(packet)
            elif isinstance(target := copies[value.stream.index], AudioRecode):
                for packet in target.recode(value):
                    output.mux(packet)
            else:
                value.stream = target
                output.mux(value)
        for packet in stream.encode(None):  # flush the encoders
            output.mux(packet)
        for target in copies.values():
            if isinstance(target, AudioRecode):
                for packet in target.output.encode(None):
                    output.mux(packet)
    except BaseException as exc:
        failure.append(exc)
        while items.get() is not _END:  # drain so the producer never blocks
            pass


def _put(items: queue.Queue, item, failure: list) -> None:
    while True:
        if failure:
            raise failure[0]
        try:
            items.put(item, timeout=0.5)
            return
        except queue.Full:
            continue


def _pipeline(
    items: Iterator,
    output: av.container.OutputContainer,
    stream,
    copies: dict,
    time_base: Fraction,
    process: Callable[[np.ndarray], np.ndarray] | None,
    frames: Callable[[Iterator], Iterator] | None,
) -> int:
    """Items -> reader thread -> ``process`` here -> writer thread. Items: ("frame", VideoFrame) is processed and
    written, ("warmup", VideoFrame) only processed (the stateful video filters settle; nothing is written),
    ("packet", Packet) copied to its stream in ``copies``. Returns the number of frames written."""
    stop, failure = threading.Event(), []
    decoded: queue.Queue = queue.Queue(QUEUE_FRAMES)
    encoded: queue.Queue = queue.Queue(QUEUE_FRAMES)
    reader = threading.Thread(target=_reader, args=(items, decoded, stop), daemon=True)
    writer = threading.Thread(target=_writer, args=(output, stream, copies, encoded, failure), daemon=True)
    reader.start()
    writer.start()
    written = 0
    try:
        queued = iter(decoded.get, _END)
        for kind, value in frames(queued) if frames is not None else queued:
            if kind == "error":
                raise value
            if kind in ("frame", "warmup"):
                pixels = value.to_ndarray(format="rgb24")
                if process is not None:
                    rgb = process(pixels.astype(np.float32) / 255.0)
                    pixels = np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)
                if kind == "warmup":
                    continue
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = value.pts if value.pts is not None else written
                frame.time_base = time_base
                value = frame
                written += 1
            _put(encoded, (kind, value), failure)
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(queue.Empty):
                decoded.get(timeout=0.1)
        if writer.is_alive():
            encoded.put(_END)
            writer.join()
    if failure:
        raise failure[0]
    return written


def transcode(
    source: str | Path,
    target: str | Path,
    process: Callable[[np.ndarray], np.ndarray],
    codec: str | None = None,
    quality: int | None = None,
    frames: Callable[[Iterator], Iterator] | None = None,
    before_commit: Callable[[Path], None] | None = None,
) -> int:
    """Write ``target`` (atomically: a temporary file renamed at the end) with every video frame of ``source``
    passed through ``process`` ((H, W, 3) float32 RGB in [0, 1] -> the same), other streams copied.

    ``frames`` may wrap the item iterator (a progress bar); ``before_commit(temporary file)`` runs when the file
    is complete, just before it is renamed to ``target``. Returns the number of frames written."""
    target = Path(target)
    encoder, quality = encoder_for(target.suffix, codec, quality)
    rotation = probe_video(source).rotation
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part{target.suffix}")
    with _open(source) as container, _create(partial, target) as output:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        stream = _video_stream(output, video, encoder, quality, rotation)
        copies = {other.index: _copied_stream(output, other, source, target) for other in container.streams
                  if other is not video}  # fmt: skip
        written = _pipeline(_demuxed(container, video), output, stream, copies, video.time_base, process, frames)
        if not written:
            raise ImageReadError(source, "the video stream holds no frame")
    _commit(partial, target, before_commit)
    return written


def _commit(partial: Path, target: Path, before_commit: Callable[[Path], None] | None) -> None:
    try:
        if before_commit is not None:
            before_commit(partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


# ---- segments: a long video in parallel pieces, joined into one file ----------------------------------------

SEGMENT_SUFFIX = ".mkv"  # lossless RGB H.264 (libx264rgb, CRF 0): exact frames, a fraction of their raw size


def frame_times(path: str | Path) -> list[int]:
    """Every video frame's presentation timestamp (in the stream's time base), in display order, read from the
    packets without decoding; ImageReadError when a packet has none (such a file is not split)."""
    with _open(path) as container:
        if not container.streams.video:
            raise ImageReadError(path, "no video stream in the file")
        times = [p.pts for p in container.demux(container.streams.video[0]) if p.size]
    if any(t is None for t in times):
        raise ImageReadError(path, "video packets without timestamps: it cannot be split into segments")
    return sorted(times)


def _frames_between(container, video, first: int, start: int, stop: int | None) -> Iterator[tuple[str, Any]]:
    """Frames with first <= pts < stop: those before ``start`` as "warmup", the rest as "frame"."""
    container.seek(first, stream=video, backward=True, any_frame=False)
    for frame in container.decode(video):
        if frame.pts is None or frame.pts < first:
            continue
        if stop is not None and frame.pts >= stop:
            return
        yield ("warmup" if frame.pts < start else "frame"), frame


def encode_segment(
    source: str | Path,
    target: str | Path,
    process: Callable[[np.ndarray], np.ndarray],
    start: int,
    stop: int | None,
    warmup_from: int,
) -> int:
    """Process the frames of ``source`` with start <= pts < stop (None: to the end) into a lossless segment file,
    timestamps kept; the frames from ``warmup_from`` to ``start`` go through ``process`` first and are dropped,
    so that stateful filters (temporal denoising, smoothed gate and router) arrive settled. Atomic."""
    target = Path(target)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part{SEGMENT_SUFFIX}")
    with _open(source) as container, _create(partial, target) as output:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        stream = output.add_stream("libx264rgb", rate=video.average_rate or video.guessed_rate or Fraction(25))
        stream.width, stream.height = video.codec_context.width, video.codec_context.height
        stream.pix_fmt = "rgb24"
        stream.time_base = stream.codec_context.time_base = video.time_base
        stream.options = {"crf": "0", "preset": "ultrafast"}
        items = _frames_between(container, video, warmup_from, start, stop)
        written = _pipeline(items, output, stream, {}, video.time_base, process, None)
    os.replace(partial, target)
    return written


def _segment_frames(segments: list[Path], times: list[int], time_base: Fraction) -> Iterator[tuple[float, str, Any]]:
    """The segments' frames in order, each given the source's timestamp of its place (``times``, display order):
    a segment container's own clock (Matroska counts milliseconds) never rounds the source's timestamps."""
    index = 0
    for path in segments:
        with _open(path) as container:
            for frame in container.decode(container.streams.video[0]):
                if index >= len(times):
                    raise ValueError(f"{path}: more frames than the source has ({len(times)})")
                frame.pts = times[index]
                yield float(times[index] * time_base), "frame", frame
                index += 1
    if index != len(times):
        raise ValueError(f"the segments hold {index} frames, the source {len(times)}: a segment is incomplete")


def _other_packets(container, video) -> Iterator[tuple[float, str, Any]]:
    for packet in container.demux([s for s in container.streams if s is not video]):
        if packet.dts is not None:
            yield float(packet.dts * packet.time_base), "packet", packet


def join_segments(
    source: str | Path,
    segments: list[Path],
    target: str | Path,
    codec: str | None = None,
    quality: int | None = None,
    before_commit: Callable[[Path], None] | None = None,
) -> int:
    """Encode the frames of ``segments`` (in order) into ``target`` as :func:`transcode` would have written them,
    with the other streams of ``source`` copied, interleaved by time. Atomic (``before_commit`` as in
    :func:`transcode`). Returns the number of frames."""
    target = Path(target)
    encoder, quality = encoder_for(target.suffix, codec, quality)
    rotation = probe_video(source).rotation
    partial = target.with_name(f".{target.name}.{os.getpid()}.part{target.suffix}")
    with _open(source) as container, _create(partial, target) as output:
        video = container.streams.video[0]
        stream = _video_stream(output, video, encoder, quality, rotation)
        copies = {other.index: _copied_stream(output, other, source, target) for other in container.streams
                  if other is not video}  # fmt: skip
        frames = _segment_frames(segments, frame_times(source), video.time_base)
        merged = heapq.merge(frames, _other_packets(container, video), key=lambda item: item[0])
        items = ((kind, value) for _, kind, value in merged)
        written = _pipeline(items, output, stream, copies, video.time_base, None, None)
    _commit(partial, target, before_commit)
    return written


class _create:
    """The output container as a context: closed on the way out; the partial file removed on an error."""

    def __init__(self, partial: Path, target: Path):
        self.partial, self.target = partial, target

    def __enter__(self) -> av.container.OutputContainer:
        try:
            self.output = av.open(str(self.partial), "w", format=_muxer(self.target.suffix))
        except av.error.FFmpegError as exc:
            raise OSError(f"{self.target}: cannot create the video file ({exc})") from None
        return self.output

    def __exit__(self, kind, error, trace) -> None:
        try:
            self.output.close()
        except av.error.FFmpegError:
            if kind is None:
                raise
        finally:
            if kind is not None:
                self.partial.unlink(missing_ok=True)


def _video_stream(output, video, encoder: str, quality: int, rotation: int):
    """The output video stream: the input's size, time base (timestamps kept as they are) and rotation."""
    context = video.codec_context
    stream = output.add_stream(encoder, rate=video.average_rate or video.guessed_rate or Fraction(25))
    stream.width, stream.height = context.width, context.height
    odd = context.width % 2 or context.height % 2  # 4:2:0 needs even sides; 4:4:4 keeps every pixel
    stream.pix_fmt = "yuv444p" if odd and encoder != "mpeg4" else "yuv420p"
    stream.time_base = video.time_base
    stream.codec_context.time_base = video.time_base
    stream.options = _quality_options(encoder, quality)
    if encoder == "mpeg4":
        stream.codec_context.qscale = quality
    if rotation:
        stream.set_display_rotation(float(rotation))
    return stream


# the audio codec a container gets when it cannot hold the source's (WebM takes only Opus and Vorbis)
AUDIO_FALLBACK = {".webm": "libopus", ".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".avi": "aac", ".mkv": "libopus"}


class AudioRecode:
    """An audio stream the output container cannot hold as it is: decoded and encoded again (``recode``)."""

    def __init__(self, source_stream, output_stream):
        self.source, self.output = source_stream, output_stream

    def recode(self, packet) -> list:
        packets = []
        for frame in self.source.codec_context.decode(packet):
            frame.pts = None  # the encoder counts samples; the audio starts where the source's did
            packets += self.output.encode(frame)
        return packets


def _copied_stream(output, other, source: str | Path, target: Path):
    """The output stream a non-video stream of the source is copied to, packet for packet; an audio stream the
    container cannot hold is re-encoded (AAC -> Opus for WebM, ...); anything else it cannot hold is an error."""
    try:
        return output.add_stream_from_template(other)
    except (av.error.FFmpegError, ValueError) as exc:
        if other.type == "audio" and target.suffix.lower() in AUDIO_FALLBACK:
            codec = AUDIO_FALLBACK[target.suffix.lower()]
            rate = 48000 if codec == "libopus" else other.codec_context.sample_rate
            stream = output.add_stream(codec, rate=rate, layout=other.codec_context.layout.name)
            return AudioRecode(other, stream)
        raise ValueError(
            f"{source}: its {other.type} stream ({other.codec_context.name}) cannot be stored in a {target.suffix} "
            f"file ({exc}); choose .mkv"
        ) from None


def _muxer(suffix: str) -> str:
    return {".mkv": "matroska", ".m4v": "mp4", ".mov": "mov", ".webm": "webm", ".avi": "avi"}.get(suffix.lower(), "mp4")


def _quality_options(encoder: str, quality: int) -> dict[str, str]:
    if encoder == "libx264":
        return {"crf": str(quality), "preset": "veryfast"}
    if encoder == "libvpx-vp9":
        return {"crf": str(quality), "b": "0", "row-mt": "1"}
    if encoder == "libsvtav1":
        return {"crf": str(quality), "preset": "8"}
    return {}


def read_video_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) float32 RGB frames in [0, 1] from a video file, in order (as stored, before rotation)."""
    with _open(path) as container:
        if not container.streams.video:
            raise ImageReadError(path, "no video stream in the file")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24").astype(np.float32) / 255.0
