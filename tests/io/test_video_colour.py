"""Colour in video: the YUV matrix a stream is decoded and encoded with and tagged as, rounding in the shadows, and
HDR (HLG, PQ) sources brought to SDR BT.709 - known values and lossless files through the real decoder and encoder."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from lowface.io.video import decoded_pixels, transcode
from lowface.io.video_colour import (
    PRIMARIES_BT709,
    SPACE_BT709,
    SPACE_SMPTE170M,
    TRANSFER_BT709,
    TRANSFER_HLG,
    TRANSFER_PQ,
    VideoColour,
    encodable,
    hdr_to_sdr,
    tag_stream,
    video_colour,
)
from lowface.io.video_input import read_video_frames
from samples import mux_frames, smooth_test_image

BT2020 = 9  # AVColorSpace / AVColorPrimaries: BT.2020 (non-constant luminance)


def yuv_clip(path: Path, planes: tuple[np.ndarray, np.ndarray, np.ndarray], pix_fmt: str, tags: tuple | None,
             frames: int = 2) -> Path:  # fmt: skip
    """A lossless clip (FFV1 in Matroska) of ``frames`` copies of one YUV 4:2:0 frame, its colour tags (space,
    primaries, transfer, range) written when given."""
    height, width = planes[0].shape
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        context = stream.codec_context
        if tags is not None:
            context.colorspace, context.color_primaries, context.color_trc, context.color_range = tags
        copies = []
        for index in range(frames):
            frame = av.VideoFrame(width, height, pix_fmt)
            for plane, values in zip(frame.planes, planes, strict=True):
                plane.update(np.ascontiguousarray(values))
            if tags is not None:
                frame.colorspace, frame.color_range = tags[0], tags[3]
            frame.pts = index
            copies.append(frame)
        mux_frames(out, stream, copies)
    return path


def flat_planes(height: int, width: int, y: int, u: int, v: int, dtype=np.uint8):
    return (np.full((height, width), y, dtype), np.full((height // 2, width // 2), u, dtype),
            np.full((height // 2, width // 2), v, dtype))  # fmt: skip


def bt709_rgb(y: float, u: float, v: float) -> np.ndarray:
    """8-bit limited-range BT.709 Y'CbCr -> R'G'B' in [0, 1], by the standard's formulas."""
    luma, blue, red = (y - 16) / 219, (u - 128) / 224, (v - 128) / 224
    r, b = luma + 1.5748 * red, luma + 1.8556 * blue
    return np.array([r, (luma - 0.2126 * r - 0.0722 * b) / 0.7152, b])


def first_frame(path: Path) -> tuple[np.ndarray, av.video.stream.VideoStream]:
    container = av.open(str(path))
    stream = container.streams.video[0]
    return next(container.decode(stream)), stream


def test_untagged_matrices_are_resolved_as_players_resolve_them():
    assert video_colour(2, 2, 2, 1920, 1080) == VideoColour(SPACE_BT709, PRIMARIES_BT709, TRANSFER_BT709)
    assert video_colour(2, 2, 2, 640, 480).space == SPACE_SMPTE170M  # SD: BT.601
    assert video_colour(2, 2, 2, 720, 576).space == SPACE_SMPTE170M and video_colour(2, 2, 2, 720, 578).space == 1
    assert video_colour(BT2020, 2, TRANSFER_HLG, 3840, 2160) == VideoColour(BT2020, BT2020, TRANSFER_HLG)
    assert video_colour(8, 2, 2, 1280, 720).space == SPACE_BT709  # YCgCo: no swscale matrix, the HD guess
    assert video_colour(BT2020, 2, TRANSFER_PQ, 64, 64).hdr == "PQ" and video_colour(1, 1, 1, 64, 64).hdr is None


@pytest.mark.parametrize("tags", [(1, 1, 1, 1), None], ids=["bt709-tagged", "untagged-hd"])
def test_an_hd_clip_is_decoded_with_bt709_and_its_colours_survive_a_round_trip(tmp_path: Path, tags):
    """A saturated red (YUV 100/90/200): decoded with BT.709 whether tagged or not (FFmpeg's own default, BT.601,
    gives 211/52/20 instead of 226/66/16), and written back with BT.709 and tagged so: the output's YUV is the
    source's within one level (before: 109/82/202, 14 levels more red shown by every player)."""
    source = yuv_clip(tmp_path / "red.mkv", flat_planes(720, 1280, 100, 90, 200), "yuv420p", tags)
    rgb = next(read_video_frames(source))[8, 8]
    assert np.abs(rgb - bt709_rgb(100, 90, 200).clip(0, 1)).max() < 1.5 / 255
    target = tmp_path / "out.mp4"
    assert transcode(source, target, None, codec="h264", quality=0) == 2
    frame, stream = first_frame(target)
    context = stream.codec_context
    assert (context.colorspace, context.color_primaries, context.color_trc, context.color_range) == (1, 1, 1, 1)
    yuv = frame.to_ndarray(format="yuv444p")[:, 8, 8].astype(int)
    assert np.abs(yuv - [100, 90, 200]).max() <= 1, yuv


def test_an_sd_clip_keeps_bt601_and_is_tagged_with_it(tmp_path: Path):
    source = yuv_clip(tmp_path / "sd.mkv", flat_planes(480, 640, 100, 90, 200), "yuv420p", None)
    target = tmp_path / "out.mp4"
    transcode(source, target, None, codec="h264", quality=0)
    frame, stream = first_frame(target)
    assert (stream.codec_context.colorspace, stream.codec_context.color_primaries) == (SPACE_SMPTE170M, 6)
    assert np.abs(frame.to_ndarray(format="yuv444p")[:, 8, 8].astype(int) - [100, 90, 200]).max() <= 1


LEVEL_CASES = [("yuv420p", 1, False), ("yuv420p10le", 4, False), ("yuv420p", 1, True)]


@pytest.mark.parametrize("pix_fmt, scale, full", LEVEL_CASES, ids=["8-bit", "10-bit", "full-range"])
def test_every_level_is_decoded_at_full_scale_and_a_video_left_alone_keeps_its_luma(
    tmp_path: Path, pix_fmt: str, scale: int, full: bool
):
    """Every luma level (chroma neutral) decodes to (Y - black) / (white - black) within 0.02 of an 8-bit level.
    FFmpeg's 8-bit RGB output truncates (half a level dark on average, Y 17 -> 0 with its accurate rounding, which an
    eightfold brightening makes four levels); its 16-bit output scales by 256 instead of 257 (white 65,283: every level
    above mid-grey one level of 255 dark). Written back unprocessed and losslessly, the luma is the source's exactly
    (before: a third of the levels one lower)."""
    dtype = np.uint16 if scale > 1 else np.uint8
    black, white = (0, 255) if full else (16, 235)
    levels = np.minimum(np.arange(black, black + 256), white)  # 256 columns: whole lines of the frame's planes
    luma = np.repeat(levels[None, :].astype(dtype) * scale, 8, 0)
    planes = (luma, np.full((4, 128), 128 * scale, dtype), np.full((4, 128), 128 * scale, dtype))
    source = yuv_clip(tmp_path / "ramp.mkv", planes, pix_fmt, (1, 1, 1, 2 if full else 1))
    decoded = next(read_video_frames(source))[1]  # (256, 3)
    expected = (levels - black) / (white - black)
    assert np.abs(decoded - expected[:, None]).max() <= 0.02 / 255
    if pix_fmt == "yuv420p" and not full:  # (a full-range source is written in limited range: rounded twice)
        target = tmp_path / "out.mkv"
        transcode(source, target, None, codec="h264", quality=0)
        frame, _ = first_frame(target)
        assert np.array_equal(frame.to_ndarray(format="yuv444p")[0, 1], levels)


@pytest.mark.parametrize("space", [SPACE_BT709, SPACE_SMPTE170M])
def test_colours_are_converted_for_the_encoder_without_a_tint(space: int):
    """A colourful smooth RGB frame converted to the output's 4:2:0 and back: every channel's mean within 0.03 of a
    level of the source's (FFmpeg's default rounding: red and blue 0.1 low, green 0.06-0.08 high)."""
    scene = np.round(smooth_test_image(240, 320, seed=5) * 255).astype(np.uint8)
    with av.open(io.BytesIO(), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        tag_stream(stream.codec_context, VideoColour(space, PRIMARIES_BT709, TRANSFER_BT709))
        converted = encodable(av.VideoFrame.from_ndarray(scene, format="rgb24"), stream)
    converted.colorspace, converted.color_range = space, 1
    bias = (decoded_pixels(converted) / 257.0 - scene).mean(axis=(0, 1))
    assert converted.format.name == "yuv420p" and np.abs(bias).max() < 0.03, bias


@pytest.mark.parametrize("codec", ["h264", "hevc", "vp9", "av1"])
def test_a_written_video_decodes_to_its_own_colours(tmp_path: Path, codec: str):
    """A colourful smooth RGB scene written at the best quality and decoded again: every channel's mean within 0.03
    of a level of the source's. H.264 and HEVC say where their chroma samples lie (centred, as FFmpeg's converter
    takes them); left unsaid, decoders place them a quarter sample to the left (red 0.13 of a level high)."""
    scene = np.round(smooth_test_image(240, 320, seed=5) * 255).astype(np.uint8)
    frames = [av.VideoFrame.from_ndarray(scene, format="rgb24").reformat(format="bgr0") for _ in range(3)]
    for index, frame in enumerate(frames):
        frame.pts = index
    with av.open(str(tmp_path / "rgb.mkv"), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "bgr0"
        mux_frames(out, stream, frames)
    transcode(tmp_path / "rgb.mkv", tmp_path / "out.mkv", None, codec=codec, quality=0 if codec != "av1" else 1)
    frame, _ = first_frame(tmp_path / "out.mkv")
    bias = (decoded_pixels(frame) / 257.0 - scene).mean(axis=(0, 1))
    assert np.abs(bias).max() < 0.03, bias


def hlg_signal(scene: np.ndarray) -> np.ndarray:
    """BT.2100 HLG OETF: scene light in [0, 1] -> signal in [0, 1]."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    scene = np.asarray(scene, np.float64)
    return np.where(scene <= 1 / 12, np.sqrt(3 * scene), a * np.log(np.maximum(12 * scene - b, 1e-12)) + c)


def pq_signal(nits: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 inverse EOTF: display cd/m2 -> signal in [0, 1]."""
    m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
    y = (np.asarray(nits, np.float64) / 10000) ** m1
    return ((c1 + c2 * y) / (1 + c3 * y)) ** m2


def sixteen_bits(signal: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(signal) * 65535).astype(np.uint16)


def test_hdr_greys_map_to_their_sdr_levels():
    """Greys at known display light: 1 cd/m2 is SDR 1/203 (2.4-power coded: 0.1093), the same through PQ and through
    HLG's reference display (whose OOTF makes scene light E display light 1000 E^1.2); HDR reference white (203 cd/m2:
    HLG 75 %) rolls off to 0.875 (0.946 coded), the 1,000 cd/m2 peak to 0.986 - near white, its detail not clipped."""
    one_nit_scene = (1 / 1000) ** (1 / 1.2)
    hlg = sixteen_bits(hlg_signal([one_nit_scene, 0.2650, 1.0]))[:, None].repeat(3, 1)[None]
    pq = sixteen_bits(pq_signal([1.0, 203.0, 1000.0]))[:, None].repeat(3, 1)[None]
    for pixels, transfer in ((hlg, TRANSFER_HLG), (pq, TRANSFER_PQ)):
        sdr = hdr_to_sdr(pixels, VideoColour(BT2020, BT2020, transfer))[0, :, 0] / 65535
        assert np.allclose(sdr, [(1 / 203) ** (1 / 2.4), 0.875 ** (1 / 2.4), 0.9859 ** (1 / 2.4)], atol=2e-3), sdr
    with pytest.raises(ValueError, match="transfer 1 is not HDR"):
        hdr_to_sdr(hlg, VideoColour(1, 1, TRANSFER_BT709))


def test_hdr_colours_inside_bt709_keep_their_hue_and_those_outside_are_clipped():
    """A BT.709 colour written into BT.2020 comes back as itself (below the roll-off); BT.2020's pure green has no
    BT.709 equivalent and comes out as 709's most saturated green (red and blue clipped to 0)."""
    to_bt2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])
    colour = np.array([0.30, 0.12, 0.05])  # SDR linear, 709 primaries: an orange street light
    pq = sixteen_bits(pq_signal(to_bt2020 @ colour * 203))
    green = sixteen_bits(pq_signal(np.array([0.0, 0.5, 0.0]) * 203))
    sdr = hdr_to_sdr(np.stack([pq, green])[None], VideoColour(BT2020, BT2020, TRANSFER_PQ))[0] / 65535
    assert np.allclose(sdr[0], colour ** (1 / 2.4), atol=3e-3), sdr[0]
    assert sdr[1, 0] == 0 and sdr[1, 2] == 0 and sdr[1, 1] > 0.7


def test_an_hlg_clip_becomes_a_tagged_sdr_bt709_video(tmp_path: Path):
    """A 10-bit HLG BT.2020 clip (a dim grey at 1 cd/m2 on the reference display, neutral chroma): decoded to SDR
    BT.709 at its level, written 8-bit, tagged BT.709 - a player shows the same grey."""
    signal = hlg_signal((1 / 1000) ** (1 / 1.2))  # 0.0553: 1 cd/m2
    y10 = round(64 + 876 * float(signal))
    planes = flat_planes(64, 64, y10, 512, 512, np.uint16)
    source = yuv_clip(tmp_path / "hlg.mkv", planes, "yuv420p10le", (BT2020, BT2020, TRANSFER_HLG, 1))
    frame, _ = first_frame(source)
    assert frame.color_trc == TRANSFER_HLG
    expected = (1 / 203) ** (1 / 2.4)  # 0.109: 27.9 of 255
    assert np.abs(decoded_pixels(frame)[8, 8] / 65535 - expected).max() < 0.01
    target = tmp_path / "sdr.mp4"
    assert transcode(source, target, None, codec="h264", quality=0) == 2
    out, stream = first_frame(target)
    context = stream.codec_context
    assert (context.colorspace, context.color_primaries, context.color_trc) == (1, 1, 1)
    shown = out.to_ndarray(format="rgb24", src_colorspace="itu709")[8, 8]
    assert np.abs(shown / 255 - expected).max() < 1.5 / 255


def test_the_cli_says_when_an_hdr_video_is_written_as_sdr(tmp_path: Path):
    from click.testing import CliRunner

    from lowface.cli import main

    planes = flat_planes(64, 64, 120, 512, 512, np.uint16)
    source = yuv_clip(tmp_path / "night.mkv", planes, "yuv420p10le", (BT2020, BT2020, TRANSFER_PQ, 1))
    result = CliRunner().invoke(main, ["enhance", str(source), "-o", str(tmp_path / "out"), "-m", "gamma"])
    assert result.exit_code == 0, result.output
    assert f"{source}: HDR video (PQ): enhanced and written as SDR (BT.709)" in result.stderr
    _, stream = first_frame(tmp_path / "out" / "night.mkv")
    assert stream.codec_context.color_trc == TRANSFER_BT709
