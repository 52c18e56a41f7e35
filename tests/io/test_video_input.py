"""Reading video: AVI files, which store no display times (B-frames, a file cut short)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from lowface.io.video import transcode
from lowface.io.video_input import DecodeDamage, cut_short, read_video_frames, riff_cut
from lowface.io.video_segments import encode_segment, frame_times, join_segments
from samples import mux_frames

FRAMES = 40


def marked_frames(count: int = FRAMES) -> list[av.VideoFrame]:
    """Dark frames 48 high and 2 * count wide, frame k with a bright bar at columns 2k..2k+1 (its place in display
    order can be read off any decoded copy)."""
    frames = []
    for index in range(count):
        pixels = np.full((48, 2 * count, 3), 30, np.uint8)
        pixels[:, 2 * index : 2 * index + 2] = 220
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = index
        frames.append(frame)
    return frames


def bar_places(path: Path) -> list[int]:
    return [int(np.argmax(frame.mean(axis=(0, 2)))) // 2 for frame in read_video_frames(path)]


def avi_with_b_frames(path: Path, codec: str) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 2 * FRAMES, 48, "yuv420p"
        if codec == "mpeg4":
            stream.codec_context.max_b_frames = 2
        mux_frames(out, stream, [frame.reformat(format="yuv420p") for frame in marked_frames()])
    return path


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_an_avi_with_b_frames_is_read_in_display_order_and_written_whole(tmp_path: Path, codec: str):
    """FFmpeg guesses an AVI packet's display time as the next packet's decode time: the frames of an H.264 AVI
    with B-frames came out timed 90, 246, 213, 279, 123 ms and the last two with the same time, and the encoder
    refused them ("Invalid argument"). They now take the packets' decode times in order, and an AVI written with
    B-frames is read back in order too."""
    source = avi_with_b_frames(tmp_path / f"{codec}.avi", codec)
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        times = [frame.pts for frame in DecodeDamage().frames(container, stream)]
    assert times == sorted(set(times)) and len(times) == FRAMES
    assert bar_places(source) == list(range(FRAMES))
    for suffix in (".avi", ".mp4"):
        target = tmp_path / f"out{suffix}"
        assert transcode(source, target, None) == FRAMES
        assert bar_places(target) == list(range(FRAMES))
    times = frame_times(source)  # in two segments, as a long video is enhanced in parallel
    first, second = tmp_path / "first.mkv", tmp_path / "second.mkv"
    assert encode_segment(source, first, lambda rgb: rgb, times[0], times[15], times[0]) == 15
    assert encode_segment(source, second, lambda rgb: rgb, times[15], None, times[0]) == FRAMES - 15
    assert join_segments(source, [first, second], tmp_path / "joined.avi") == FRAMES
    assert bar_places(tmp_path / "joined.avi") == list(range(FRAMES))


def test_an_avi_cut_in_its_media_is_cut_short_and_one_cut_in_its_index_is_not(tmp_path: Path):
    source = avi_with_b_frames(tmp_path / "whole.avi", "libx264")
    data = source.read_bytes()
    with av.open(str(source)) as container:
        ends = [packet.pos + packet.size for packet in container.demux(video=0) if packet.size]
    (tmp_path / "index.avi").write_bytes(data[: ends[-1] + 8])  # the media whole, the index (idx1) cut
    (tmp_path / "media.avi").write_bytes(data[: ends[FRAMES // 4]])  # 1.2 s of 1.6 s missing
    assert (riff_cut(source), riff_cut(tmp_path / "index.avi"), riff_cut(tmp_path / "media.avi")) == (False, True, True)
    for name, expected in (("whole.avi", False), ("index.avi", False), ("media.avi", True)):
        with av.open(str(tmp_path / name)) as container:
            stream, damage = container.streams.video[0], DecodeDamage()
            frames = len(list(damage.frames(container, stream)))
            note = cut_short(container, stream, damage.packets, damage.end)
        assert (note is not None) == expected, (name, frames, note)
        assert frames == FRAMES if not expected else 0 < frames < FRAMES
