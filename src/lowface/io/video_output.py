"""Writing a video container: codec and quality per container, the output file (created beside the target and
renamed into place), the video stream with the input's size, time base, rotation and colour, and the other streams
copied packet for packet (audio the container cannot hold is re-encoded)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from lowface.io.video_colour import output_colour, tag_stream, video_colour

# codec name -> (FFmpeg encoder, default quality as CRF; lower is better)
VIDEO_CODECS: dict[str, tuple[str, int]] = {
    "h264": ("libx264", 18),
    "hevc": ("libx265", 22),  # about a third of H.264's size on enhanced noisy video, at about 3x its encoding time
    "vp9": ("libvpx-vp9", 30),
    "av1": ("libsvtav1", 30),
    "mpeg4": ("mpeg4", 4),  # no CRF: the number is MPEG-4's qscale (1 best .. 31)
}
# container suffix -> (default codec, codecs it can hold)
CONTAINERS: dict[str, tuple[str, tuple[str, ...]]] = {
    ".mp4": ("h264", ("h264", "hevc", "av1", "vp9", "mpeg4")),
    ".m4v": ("h264", ("h264", "hevc", "mpeg4")),
    ".mov": ("h264", ("h264", "hevc", "mpeg4")),
    ".mkv": ("h264", ("h264", "hevc", "vp9", "av1", "mpeg4")),
    ".webm": ("vp9", ("vp9", "av1")),
    ".avi": ("h264", ("h264", "mpeg4")),
}


def encoder_for(suffix: str, codec: str | None = None, quality: int | None = None) -> tuple[str, int]:
    """(FFmpeg encoder, quality) for an output suffix and an optional codec name; ValueError (one line) when the
    container cannot hold the codec or this FFmpeg build lacks its encoder. Called before any work starts."""
    suffix = suffix.lower()
    if suffix not in CONTAINERS:
        raise ValueError(f"cannot write {suffix} videos; use one of {sorted(CONTAINERS)}")
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


class create_output:
    """The output container as a context: closed on the way out; the partial file removed on an error."""

    def __init__(self, partial: Path, target: Path):
        self.partial, self.target = partial, target

    def __enter__(self) -> av.container.OutputContainer:
        try:
            self.output = av.open(str(self.partial), "w", format=muxer(self.target.suffix))
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


def video_stream(output, video, encoder: str, quality: int, rotation: int, speed: str = "balanced"):
    """The output video stream: the input's size, its pixel shape (:func:`output_pixel_format`), time base
    (timestamps kept as they are), rotation and colour (:func:`lowface.io.video_colour.output_colour`: an HDR
    source's output is SDR BT.709), encoded at CRF ``quality`` and ``speed`` (:data:`ENCODE_SPEEDS`)."""
    context = video.codec_context
    stream = output.add_stream(encoder, rate=video.average_rate or video.guessed_rate or Fraction(25))
    stream.width, stream.height = context.width, context.height
    if context.sample_aspect_ratio:  # anamorphic sources (HDV 1440x1080, DV, DVD) keep their display shape
        stream.codec_context.sample_aspect_ratio = context.sample_aspect_ratio
    stream.pix_fmt = output_pixel_format(encoder, context.width, context.height)
    stream.time_base = video.time_base
    stream.codec_context.time_base = video.time_base
    stream.options = quality_options(encoder, quality, speed)
    source = video_colour(context.colorspace, context.color_primaries, context.color_trc, context.width,
                          context.height)  # fmt: skip
    tag_stream(stream.codec_context, output_colour(source))
    if encoder == "mpeg4":
        stream.codec_context.qscale = quality
    if encoder == "libx265" and output.format.name in ("mp4", "mov"):
        stream.codec_tag = "hvc1"  # what Apple's players and browsers take HEVC in MP4 / MOV as (FFmpeg writes hev1)
    if rotation:
        stream.set_display_rotation(float(rotation))
    if (start := timecode(video)) is not None:
        stream.metadata["timecode"] = start  # MOV / MP4: a timecode track; Matroska: a tag
    return stream


# encoders whose 4:2:0 needs even sides: they write an odd-sized video in 4:4:4 (every pixel kept). VP9, SVT-AV1 and
# MPEG-4 code odd sides in 4:2:0 (SVT-AV1 and MPEG-4 have no 4:4:4: an odd-sized AV1 output failed until 2026-12-07).
EVEN_SIDED_420 = frozenset({"libx264", "libx265"})


def output_pixel_format(encoder: str, width: int, height: int) -> str:
    """The pixel format ``encoder`` writes a ``width`` x ``height`` video in: 8-bit 4:2:0, or 4:4:4 for odd sides where
    :data:`EVEN_SIDED_420`. (10 bits for HEVC and AV1 kept 0.0-0.4 dB more of enhanced 1080p frames at 2-30 % more
    encoder CPU: not taken, ``benchmarks/results/encode_depth/``.)"""
    return "yuv444p" if (width % 2 or height % 2) and encoder in EVEN_SIDED_420 else "yuv420p"


REORDER_LIMIT_S = 60  # no encoder holds a frame back this long: a decode time further from its display is garbage


def in_decode_order(packet):
    """``packet`` with a decode timestamp a muxer takes. libx265 hands back an uninitialised one when a clip has two
    frames (dts - pts was +5.6e18, -8.8e18, 0 ... from one run to the next); Matroska refused the packets of about
    half such runs ("Invalid argument"). A decode time after the display time, or more than a minute before it, is
    set to the display time: two frames are coded in display order (neither can wait for a later one)."""
    if packet.pts is not None and packet.dts is not None:
        early = (packet.pts - packet.dts) * packet.time_base
        if early < 0 or early > REORDER_LIMIT_S:
            packet.dts = packet.pts
    return packet


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


COPIED_TYPES = ("audio", "subtitle", "video")  # data streams are not: see copied_streams


def copied_streams(output, container, video, source: str | Path, target: Path) -> dict[int, Any]:
    """The output streams that the source's streams other than ``video`` are copied to, by source stream index: audio,
    subtitles, other video streams (:func:`copied_stream`). Data streams - a camera's timecode track, a phone's
    metadata tracks ('mebx'), telemetry - are not: MP4 and MOV refuse most of them as packets, which failed the whole
    file; the timecode goes on as the video stream's metadata (:func:`video_stream`)."""
    return {other.index: copied_stream(output, other, source, target) for other in container.streams
            if other is not video and other.type in COPIED_TYPES}  # fmt: skip


def timecode(video) -> str | None:
    """The source's start timecode ("01:02:03:04"), from the video stream or a timecode track, or None."""
    found = [video.metadata.get("timecode")] + [s.metadata.get("timecode") for s in video.container.streams.data]
    return next((value for value in found if value), None)


def copied_stream(output, other, source: str | Path, target: Path):
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


def muxer(suffix: str) -> str:
    return {".mkv": "matroska", ".m4v": "mp4", ".mov": "mov", ".webm": "webm", ".avi": "avi"}.get(suffix.lower(), "mp4")


# encoder -> its speed setting for each ENCODE_SPEEDS entry. "fast" spends less CPU for a larger or slightly worse
# file at the same CRF (VP9 cpu-used 4 and SVT-AV1 preset 10 on 360p frames: 2.6x and 2.2x faster, size within 3 %).
# MPEG-4 has one speed. x264 "balanced" is veryfast without its two costliest searches (inter sub-partitions,
# sub-pixel refinement 2 -> 1; motion search, macroblock tree and look-ahead kept): 27-34 % less encoder CPU on
# enhanced 1080p frames for a 3-5 % larger file at the same luma PSNR to the frames (+-0.1 dB); x264 "fast" is
# ultrafast: a third to a half of that CPU again, for a file 1.7-2x larger (benchmarks/results/encode_options/,
# 2026-12-05; superfast, "fast" until then, was slower than "balanced" now, its files 1.3-1.8x larger).
ENCODE_SPEEDS = ("balanced", "fast")
X264_BALANCED = "partitions=i8x8,i4x4:subme=1"
SPEED_OPTIONS: dict[str, dict[str, dict[str, str]]] = {
    "libx264": {"balanced": {"preset": "veryfast", "x264-params": X264_BALANCED}, "fast": {"preset": "ultrafast"}},
    "libx265": {
        "balanced": {"preset": "veryfast", "x265-params": "log-level=error"},
        "fast": {"preset": "superfast", "x265-params": "log-level=error"},
    },
    "libvpx-vp9": {"balanced": {}, "fast": {"cpu-used": "4"}},  # libvpx's default cpu-used is 1
    "libsvtav1": {"balanced": {"preset": "8"}, "fast": {"preset": "10"}},
}


def quality_options(encoder: str, quality: int, speed: str = "balanced") -> dict[str, str]:
    """The encoder's options for a CRF ``quality`` at an ``ENCODE_SPEEDS`` ``speed``."""
    check_encode_speed(speed)
    if encoder not in SPEED_OPTIONS:  # MPEG-4: its qscale is set on the codec context
        return {}
    constant_quality = {"b": "0", "row-mt": "1"} if encoder == "libvpx-vp9" else {}  # (VP9: no bitrate cap)
    options = {"crf": str(quality), **constant_quality, **SPEED_OPTIONS[encoder][speed]}
    if encoder in CENTRED_CHROMA:
        options = with_params(options, CENTRED_CHROMA[encoder], "chromaloc=1")
    return x264_options(options) if encoder == "libx264" else options


# H.264 and HEVC 4:2:0 is left-sited unless the stream says otherwise, and decoders place its chroma so; FFmpeg's
# converter samples it centred between the luma samples. Said in the stream (chromaloc 1), a colourful frame written
# losslessly decodes to its own colours (before: red 0.13 of a level high, green and blue 0.05 low, RMS error 19.4
# instead of 17.2 levels at colour edges). VP9 and AV1 state no siting: decoded centred already.
CENTRED_CHROMA = {"libx264": "x264-params", "libx265": "x265-params"}


def with_params(options: dict[str, str], key: str, param: str) -> dict[str, str]:
    """``options`` with ``param`` ("name=value") added to the encoder's ``key`` list ("x264-params", "x265-params")."""
    return {**options, key: ":".join(filter(None, (options.get(key), param)))}


def x264_options(options: dict[str, str]) -> dict[str, str]:
    """libx264's (or libx264rgb's) ``options`` with x264 held to its AVX2 routines where :func:`x264_avx512_capped`
    says so: the same frames then give the same stream on every run."""
    return with_params(options, "x264-params", "asm=avx2") if x264_avx512_capped() else options


@functools.cache
def x264_avx512_capped() -> bool:
    """Whether x264 is held to AVX2 routines: on CPUs with AVX-512, where its AVX-512 ones make the same frames give
    different files from run to run at some sizes (`veryfast`, 2026-12-07, AMD EPYC: 2-4 different H.264 streams in
    8 encodes of one 320x240 or 704x576 clip, none when capped; 720p and 1080p were stable; 1080p encoding time the
    same within noise, 0.44-0.59 s for 24 frames either way). They vary more in a process that has run other work
    than in a fresh one, as a read of uninitialised memory would. Only where AVX-512 is there, so AVX2 is too: x264
    does not check a forced ``asm`` against the CPU. The CPU's own flags decide, as they decide x264's routines, not
    PyTorch's kernel choice (``ATEN_CPU_CAPABILITY=avx2`` lowers that one only)."""
    import torch

    return bool(torch.cpu._is_avx512_supported())


def check_encode_speed(speed: str) -> None:
    """ValueError (one line) unless ``speed`` is one of :data:`ENCODE_SPEEDS`."""
    if speed not in ENCODE_SPEEDS:
        raise ValueError(f"unknown encode speed {speed!r}; use one of {', '.join(ENCODE_SPEEDS)}")


def commit(partial: Path, target: Path, before_commit: Callable[[Path], None] | None) -> None:
    try:
        if before_commit is not None:
            before_commit(partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
