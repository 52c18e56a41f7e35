"""Interlaced video: frames flagged interlaced are deinterlaced before processing, with the source's frames,
timestamps and other streams kept; progressive video passes untouched."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from conftest import smooth_test_image
from lowface.io.video import decoded_pixels, transcode
from lowface.io.video_input import read_video_frames
from samples import audio_frames, make_clip, mux_frames, streams

HEIGHT, WIDTH = 96, 128


def combing(rgb: np.ndarray) -> float:
    """Mean distance of each row from the mean of its neighbours: woven fields of a moving edge make it large."""
    luma = rgb.astype(np.float64).mean(-1)
    return float(np.abs(luma[1:-1] - (luma[:-2] + luma[2:]) / 2).mean())


def interlaced_clip(path: Path, frames: int = 10) -> Path:
    """An interlaced H.264 clip (top field first) of a bright bar moving 8 px a field over a dark textured ground
    panning 5 px a field, with a tone in AAC beside it."""
    ground = smooth_test_image(HEIGHT, WIDTH * 3, seed=3).mean(-1) * 120
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"x264-params": "interlaced=1:tff=1", "crf": "4"}
        sound = out.add_stream("aac", rate=16000, layout="mono")
        woven = []
        for index in range(frames):
            image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
            for field in (0, 1):
                shift = (2 * index + field) * 5
                image[field::2] = ground[field::2, shift : shift + WIDTH, None]
                left = (2 * index + field) * 8 % (WIDTH - 24)
                image[field::2, left : left + 24] = 200
            woven.append(av.VideoFrame.from_ndarray(image, format="rgb24"))
            woven[-1].pts, woven[-1].time_base = index, Fraction(1, 25)
        mux_frames(out, video, woven)
        mux_frames(out, sound, audio_frames(sound, 0.4))
    return path


def test_interlaced_frames_are_deinterlaced_with_frames_timestamps_and_audio_kept(tmp_path: Path):
    source = interlaced_clip(tmp_path / "camcorder.mp4")
    with av.open(str(source)) as container:
        woven = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert all(frame.interlaced_frame for frame in av.open(str(source)).decode(video=0))
    progressive = list(read_video_frames(source))
    assert len(progressive) == len(woven) == 10
    before, after = np.mean([combing(f) for f in woven[1:]]), np.mean([combing(f * 255) for f in progressive[1:]])
    assert before > 15 and after < before / 4, (before, after)
    target = tmp_path / "out.mp4"
    assert transcode(source, target, None, codec="h264", quality=0) == 10
    assert streams(target)["pts"] == streams(source)["pts"]
    assert streams(target)["audio"] == streams(source)["audio"]
    with av.open(str(target)) as container:
        written = [frame for frame in container.decode(video=0)]
    assert not any(frame.interlaced_frame for frame in written)
    assert np.mean([combing(frame.to_ndarray(format="rgb24")) for frame in written[1:]]) < before / 4


def test_progressive_video_is_not_touched_by_the_deinterlacer(tmp_path: Path):
    source = make_clip(tmp_path / "clip.mp4")
    with av.open(str(source)) as container:
        plain = [decoded_pixels(frame) for frame in container.decode(video=0)]
    decoded = list(read_video_frames(source))
    assert len(decoded) == len(plain)
    assert np.array_equal(np.stack(decoded), np.stack(plain) / np.float32(65535))


def test_segments_of_an_interlaced_video_are_deinterlaced_as_the_whole_file(tmp_path: Path):
    """A segment's last frame is deinterlaced with its successor as look-ahead (decoded, not written), as in the
    whole file; without it bwdif treats it as the end of the video and the joined file has a seam there."""
    from lowface.io.video_segments import encode_segment, frame_times

    source = interlaced_clip(tmp_path / "camcorder.mp4")
    times = frame_times(source)
    whole = np.stack([np.round(frame * 255) for frame in read_video_frames(source)])
    first, second = tmp_path / "first.mkv", tmp_path / "second.mkv"
    assert encode_segment(source, first, lambda rgb: rgb, times[0], times[5], times[0]) == 5
    assert encode_segment(source, second, lambda rgb: rgb, times[5], None, times[3]) == 5
    pieces = [frame.to_ndarray(format="rgb24") for path in (first, second) for frame in av.open(str(path)).decode()]
    assert np.array_equal(np.stack(pieces), whole)
