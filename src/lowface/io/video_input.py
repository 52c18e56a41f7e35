"""Reading video files: which stream is the video (:func:`main_video_stream`), what a file holds
(:func:`probe_video`), and its frames as RGB (:func:`read_video_frames`), deinterlaced (:mod:`.video_fields`) and
converted as :func:`lowface.io.video_colour.decoded_pixels` does; damaged packets skipped (:class:`DecodeDamage`)."""

from __future__ import annotations

import heapq
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from lowface.io import MIN_SIDE, ImageReadError, as_float
from lowface.io.video_colour import decoded_pixels, frame_colour
from lowface.io.video_fields import deinterlaced


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds. size: (height, width) of the stored frames (before display rotation)."""

    frames: int | None  # None when the container does not say
    fps: float
    size: tuple[int, int]
    rotation: int  # degrees the player turns the frames (counter-clockwise), 0 for none
    codec: str
    other_streams: tuple[str, ...]  # "audio:aac", "subtitle:mov_text", ...
    hdr: str | None = None  # "PQ" or "HLG" for an HDR source (enhanced and written as SDR BT.709), else None


# containers that store no presentation times: FFmpeg guesses each packet's as the next one's decode time, which put
# the frames of a stream with B-frames (H.264) out of order - 90, 246, 213, 279, 123 ms - and gave the last two
# the same time; the encoder refused them. One packet holds one frame, so the frames (decoded in display order) take
# the packets' decode times, the times the file does store, in order (:func:`display_time`).
UNTIMED_FORMATS = frozenset({"avi"})


def untimed(packet) -> bool:
    """Whether ``packet`` comes from an :data:`UNTIMED_FORMATS` file (its presentation time is FFmpeg's guess)."""
    return packet.stream.container.format.name in UNTIMED_FORMATS


def display_time(packet) -> int | None:
    """The display time of the frame ``packet`` holds, as the file states it: its presentation time, or in an
    :data:`UNTIMED_FORMATS` file its decode time (a frame of display order takes the earliest such time pending)."""
    return packet.dts if untimed(packet) else packet.pts


@dataclass
class DecodeDamage:
    """The video packets the decoder refused as damaged data (a corrupted piece of a recording: a dropped network
    packet, a bad sector, a camera that lost power mid-write), skipped so that the rest of the video is still
    enhanced, as FFmpeg's own tool goes on; the frames that depend on them may show decoding errors. What decodes
    a stream's packets here also counts them (a cut file, :meth:`check_whole`) and times an AVI's frames
    (:data:`UNTIMED_FORMATS`)."""

    times: list[float | None] = field(default_factory=list)  # each skipped packet's time in the stream, seconds
    packets: int = 0  # the stream's packets read (those with data)
    end: float | None = None  # where the last of them ends, seconds in the stream's time
    cut: str | None = None  # how the stream falls short of its file's header (:meth:`check_whole`), else None
    pending: list[int] = field(default_factory=list)  # an AVI's packet times not yet given to a frame (a heap)

    def count(self, packet) -> None:
        """Count a packet of the stream as read (``packets``, ``end``)."""
        if packet.size:
            self.packets += 1
            if packet.pts is not None and packet.time_base is not None:
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                self.end = end if self.end is None else max(self.end, end)

    def decode(self, packet) -> list:
        """The frames ``packet`` decodes to, or none (recorded) when the decoder finds it damaged. In an AVI file the
        frames are given their packets' decode times in display order (:data:`UNTIMED_FORMATS`)."""
        self.count(packet)
        retimed = packet.size and packet.dts is not None and untimed(packet)
        if retimed:
            heapq.heappush(self.pending, packet.dts)
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            known = packet.pts is not None and packet.time_base is not None
            self.times.append(float(packet.pts * packet.time_base) if known else None)
            if retimed:  # its frame never comes
                self.pending.remove(packet.dts)
                heapq.heapify(self.pending)
            return []
        for frame in frames if self.pending else ():
            frame.pts = heapq.heappop(self.pending)
        return frames

    def frames(self, container: av.container.InputContainer, stream) -> Iterator[av.VideoFrame]:
        """``container.decode(stream)`` without the damaged packets."""
        for packet in container.demux(stream):
            yield from self.decode(packet)

    def check_whole(self, container: av.container.InputContainer, stream) -> None:
        """After the whole stream was read through :meth:`decode`: note (``cut``) whether it stopped short of what
        the file's header states (:func:`cut_short`)."""
        self.cut = cut_short(container, stream, self.packets, self.end)

    def notices(self) -> list[str]:
        """A line for the user each: the stream was cut short, packets were skipped (none: nothing to say)."""
        said = [self.cut] if self.cut else []
        if self.times:
            known = [time for time in self.times if time is not None]
            first = f", the first at {min(known):.2f} s" if known else ""
            said.append(f"{len(self.times)} damaged video packet(s) skipped{first}: the frames they held are missing "
                        "from the output and the next ones may show decoding errors")  # fmt: skip
        return said


# how much shorter than its header states a Matroska or AVI video must be (and two frames) to be called cut short
CUT_TOLERANCE_S = 0.5


def cut_short(container: av.container.InputContainer, stream, packets: int, end: float | None) -> str | None:
    """A notice when a video stream's ``packets`` (the count read, with data) stop short of what its file's header
    states - a file cut short by an interrupted copy or download, whose output ends where it does - else None.
    Stated: an MP4 / MOV index's sample count, where its media data box (``mdat``) runs past the end of the file
    (an edit list that trims the video also leaves fewer packets than samples); an AVI header's length, where
    its RIFF chunk runs past the end of the file (:func:`riff_cut`: a cut that takes only the index at the end
    loses no frame), and a Matroska track's DURATION tag (FFmpeg and mkvmerge write it near the start), each
    compared with ``end``, seconds. MPEG-TS and raw streams state nothing that a cut leaves unchanged (FFmpeg
    estimates their length from what is there): no notice. (A cut MP4 whose index comes last cannot be opened at
    all: :data:`UNFINISHED_MP4`.)"""
    name, seconds = container.format.name, None
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    if "mp4" in name or "mov" in name:
        boxes, size = iso_boxes(container.name)
        cut = any(kind == b"mdat" and stop > size for kind, _, stop in boxes)  # (an edit list's trims are not cuts)
        if not cut or not stream.frames or packets >= stream.frames:
            return None
        stated = f"its index lists {stream.frames} video frames and {packets} are there"
        seconds = float(stream.duration * stream.time_base) if stream.duration else None
    elif "matroska" in name or name == "avi":
        if name == "avi":  # its header's length, in frame slots (a variable-rate AVI's empty chunks count)
            seconds = float(stream.frames * stream.time_base) if stream.frames and riff_cut(container.name) else None
        else:
            seconds = _tag_seconds(stream.metadata.get("DURATION"))
        frame = 1 / float(stream.average_rate or stream.guessed_rate or 25)  # (a block's duration is often unstored)
        if seconds is None or end is None or seconds - (end - start) <= max(CUT_TOLERANCE_S, 2 * frame):
            return None
        stated = "its header states a longer video"
    else:
        return None
    where = f", the video ends at {end - start:.2f} s of {seconds:.2f} s" if end is not None and seconds else ""
    return f"the file is cut short ({stated}{where}: an interrupted copy or download?); the output ends there too"


def _tag_seconds(value: str | None) -> float | None:
    """A Matroska DURATION tag ("01:02:03.456000000") in seconds; None when absent or unreadable."""
    try:
        hours, minutes, seconds = (value or "").split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


UNFINISHED_MP4 = (
    "an MP4 / MOV file whose recording was cut off before it was finished (its media data is there, its index - the "
    "moov box - is missing or cut short): no decoder can read it as it is; tools such as untrunc rebuild the index "
    "from a good recording of the same camera"
)


def open_input(path: str | Path) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        if unfinished_mp4(path):
            raise ImageReadError(path, UNFINISHED_MP4) from None
        raise ImageReadError(path, f"cannot open video ({type(exc).__name__}: {exc})") from None


def unfinished_mp4(path: str | Path) -> bool:
    """Whether ``path`` is an ISO media file (MP4, MOV, 3GP: its top-level boxes) with media data (``mdat``) but no
    complete index (``moov``): what a phone or dashcam leaves when it stops mid-recording, as the index is written
    last. Reads the box headers only."""
    boxes, size = iso_boxes(path)
    kinds = {kind for kind, _, _ in boxes}
    index_complete = any(kind == b"moov" and stop <= size for kind, _, stop in boxes)
    return b"ftyp" in kinds and b"mdat" in kinds and not index_complete


def riff_cut(path: str | Path) -> bool:
    """Whether an AVI file's RIFF chunks (one; an OpenDML file's 'AVIX' ones after it) say they end past the end of
    the file: a cut. Reads the chunk headers only; False for a file that cannot be read."""
    chunks, size = top_level_chunks(path, _riff_chunk)
    return any(end > size for _, _, end in chunks)


def iso_boxes(path: str | Path) -> tuple[list[tuple[bytes, int, int]], int]:
    """(the top-level boxes of an ISO media file as (kind, start, end) in bytes, where each says it ends; the file's
    size). A box that says it ends past the file's end was cut. Reads the box headers only; none for a file that
    cannot be read."""
    return top_level_chunks(path, _iso_box)


def top_level_chunks(
    path: str | Path, chunk: Callable[[bytes, int], tuple[bytes, int] | None]
) -> tuple[list[tuple[bytes, int, int]], int]:
    """(a file's top-level chunks as (kind, start, end) in bytes, where each says it ends; the file's size): ``chunk``
    reads one from the (up to) 16 bytes at its start and the bytes left in the file, as (kind, length), or None where
    the chunks end. Reads the headers only; ([], 0) for a file that cannot be read."""
    chunks = []
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as file:
            offset = 0
            while offset + 8 <= size:
                file.seek(offset)
                found = chunk(file.read(16), size - offset)
                if found is None:
                    break
                kind, length = found
                chunks.append((kind, offset, offset + length))
                offset += length
    except OSError:
        return [], 0
    return chunks, size


def _iso_box(header: bytes, left: int) -> tuple[bytes, int] | None:
    length, kind = struct.unpack(">I4s", header[:8])
    if length == 1 and len(header) == 16:  # a 64-bit size follows
        length = struct.unpack(">Q", header[8:16])[0]
    elif length == 0:  # to the end of the file
        length = left
    return None if length < 8 else (kind, length)


def _riff_chunk(header: bytes, left: int) -> tuple[bytes, int] | None:
    kind, length = struct.unpack("<4sI", header[:8])
    return (kind, 8 + length + (length & 1)) if kind == b"RIFF" else None  # (not RIFF: bytes after the last chunk)


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's header and first frame; raises ImageReadError (naming the file) when it is not a video
    FFmpeg can decode or its frames are smaller than 8x8."""
    with open_input(path) as container:
        stream = main_video_stream(container, path)
        height, width = stream.codec_context.height, stream.codec_context.width
        if min(height, width) < MIN_SIDE:
            raise ImageReadError(path, f"video frames are {width}x{height}; at least {MIN_SIDE}x{MIN_SIDE} needed")
        try:
            first = next(DecodeDamage().frames(container, stream))
            rotation = round(first.rotation or 0)
        except StopIteration:
            raise ImageReadError(path, "the video stream holds no frame") from None
        except av.error.FFmpegError as exc:
            raise ImageReadError(path, f"cannot decode video ({exc})") from None
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        others = tuple(f"{s.type}:{_codec_name(s)}" for s in container.streams if s is not stream)
        return VideoInfo(stream.frames or None, float(rate), (height, width), rotation, stream.codec_context.name,
                         others, frame_colour(first).hdr)  # fmt: skip


def _codec_name(stream) -> str:
    """A stream's codec name; data streams (a camera's timecode track) have no codec context."""
    return stream.codec_context.name if stream.codec_context is not None else stream.name or "unknown"


def main_video_stream(container: av.container.InputContainer, path: str | Path):
    """The stream a video file is about: its largest video stream that is not an attached picture (cover art or a
    thumbnail stored as a one-frame stream, which may come first), as FFmpeg's own tool picks it; ImageReadError
    (naming the file) when there is none."""
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        raise ImageReadError(path, UNFINISHED_MP4 if unfinished_mp4(path) else "no video stream in the file")
    return max(streams, key=lambda s: (s.codec_context.width * s.codec_context.height, -s.index))


def read_video_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) float32 RGB frames in [0, 1] from a video file, in order (as stored, before rotation;
    interlaced frames deinterlaced; at 16-bit precision, HDR as SDR: :func:`.decoded_pixels`); damaged packets
    skipped."""
    with open_input(path) as container:
        stream = main_video_stream(container, path)
        stream.thread_type = "AUTO"
        for _, frame in deinterlaced(("frame", frame) for frame in DecodeDamage().frames(container, stream)):
            yield as_float(decoded_pixels(frame))
