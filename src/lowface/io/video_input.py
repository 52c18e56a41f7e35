"""Reading video files: which stream is the video (:func:`main_video_stream`), what a file holds
(:func:`probe_video`), and its frames as RGB (:func:`read_video_frames`), deinterlaced (:mod:`.video_fields`) and
converted as :func:`lowface.io.video_colour.decoded_pixels` does; damaged packets skipped (:class:`DecodeDamage`)."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
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


@dataclass
class DecodeDamage:
    """The video packets the decoder refused as damaged data (a corrupted piece of a recording: a dropped network
    packet, a bad sector, a camera that lost power mid-write), skipped so that the rest of the video is still
    enhanced, as FFmpeg's own tool goes on; the frames that depend on them may show decoding errors."""

    times: list[float | None] = field(default_factory=list)  # each skipped packet's time in the stream, seconds

    def decode(self, packet) -> list:
        """The frames ``packet`` decodes to, or none (recorded) when the decoder finds it damaged."""
        try:
            return packet.decode()
        except av.error.InvalidDataError:
            known = packet.pts is not None and packet.time_base is not None
            self.times.append(float(packet.pts * packet.time_base) if known else None)
            return []

    def frames(self, container: av.container.InputContainer, stream) -> Iterator[av.VideoFrame]:
        """``container.decode(stream)`` without the damaged packets."""
        for packet in container.demux(stream):
            yield from self.decode(packet)

    def notice(self) -> str | None:
        """One line for the user when packets were skipped, else None."""
        if not self.times:
            return None
        known = [time for time in self.times if time is not None]
        first = f", the first at {min(known):.2f} s" if known else ""
        return (f"{len(self.times)} damaged video packet(s) skipped{first}: the frames they held are missing from the "
                "output and the next ones may show decoding errors")  # fmt: skip


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
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as file:
            kinds, offset, index_complete = set(), 0, False
            while offset + 8 <= size:
                file.seek(offset)
                header = file.read(16)
                length, kind = struct.unpack(">I4s", header[:8])
                if length == 1 and len(header) == 16:  # a 64-bit size follows
                    length = struct.unpack(">Q", header[8:16])[0]
                elif length == 0:  # to the end of the file
                    length = size - offset
                if length < 8:
                    break
                kinds.add(kind)
                index_complete |= kind == b"moov" and offset + length <= size
                offset += length
    except OSError:
        return False
    return b"ftyp" in kinds and b"mdat" in kinds and not index_complete


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
