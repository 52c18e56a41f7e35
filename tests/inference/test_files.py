"""Files as people have them: name clashes, reruns with another model, records, metadata, byte-identical untouched
files, HEIC and camera RAW, video with audio through FFmpeg, options refused before any work, the standard streams."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import smooth_test_image
from lowface.cli import main
from lowface.inference.jobs import plan_jobs
from lowface.io import ImageData, read_image, write_image
from lowface.io.video_input import cut_short, read_video_frames, unfinished_mp4
from samples import (
    audio_frames,
    camera_mov,
    damaged_clip,
    dark_frames,
    make_clip,
    mux_frames,
    photo_with_xmp,
    streams,
    write_dng,
)


def run_cli(*args: str, input: bytes | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def dark_png(path: Path, seed: int = 0, scale: float = 0.2) -> Path:
    write_image(path, ImageData(smooth_test_image(seed=seed) * scale))
    return path


# ---- planning and records ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_inputs_with_one_name_are_refused_before_work_and_tree_keeps_both(tmp_path: Path):
    a, b = dark_png(tmp_path / "dupA" / "img.png"), dark_png(tmp_path / "dupB" / "img.png", seed=1)
    refused = run_cli("enhance", str(a), str(b), "-o", str(tmp_path / "out"), "-m", "gamma", "-q")
    assert refused.exit_code == 1 and "would both be written to" in refused.output and "--tree" in refused.output
    assert not (tmp_path / "out").exists()  # nothing was done
    kept = run_cli("enhance", str(a), str(b), "-o", str(tmp_path / "out"), "-m", "gamma", "-q", "--tree")
    assert kept.exit_code == 0, kept.output
    first, second = read_image(tmp_path / "out" / "dupA" / "img.png"), read_image(tmp_path / "out" / "dupB" / "img.png")
    assert not np.array_equal(first.rgb, second.rgb)
    suffixed = run_cli("enhance", str(a), "-o", str(tmp_path / "dupA"), "-m", "gamma", "-q", "--suffix", "_enh")
    assert suffixed.exit_code == 0 and (tmp_path / "dupA" / "img_enh.png").is_file()
    again = run_cli("enhance", str(tmp_path / "dupA"), "-o", str(tmp_path / "out2"), "-m", "gamma", "-q")
    assert again.exit_code == 0 and "1 enhanced" in again.stderr
    assert sorted(p.name for p in (tmp_path / "out2").glob("*.png")) == ["img.png"]  # our output is not an input


@pytest.mark.slow
def test_rerun_with_another_model_redoes_the_outputs_and_the_same_one_skips_them(tmp_path: Path):
    source = dark_png(tmp_path / "in" / "6.png")
    out = tmp_path / "out"
    assert run_cli("enhance", str(source), "-o", str(out), "-m", "he", "-q").exit_code == 0
    by_he = read_image(out / "6.png").rgb
    record = json.loads((out / ".6.png.lowface.json").read_text())
    assert record["recipe"]["model"] == "he" and record["made"] == "enhanced"
    same = run_cli("enhance", str(source), "-o", str(out), "-m", "he", "-q", "--json")
    assert "1 skipped (already made the same way)" in same.stderr and json.loads(same.stdout)["skipped_already_done"]
    other = run_cli("enhance", str(source), "-o", str(out), "-m", "gamma", "-q")
    assert other.exit_code == 0 and "1 enhanced" in other.stderr
    assert not np.array_equal(read_image(out / "6.png").rgb, by_he)
    assert json.loads((out / ".6.png.lowface.json").read_text())["recipe"]["model"] == "gamma"
    stronger = run_cli("enhance", str(source), "-o", str(out), "-m", "gamma", "-q", "--strength", "0.5")
    assert "1 enhanced" in stronger.stderr  # strength is part of the recipe


@pytest.mark.slow
def test_the_denoising_strength_changes_the_output_and_is_part_of_the_recipe(tmp_path: Path):
    source = dark_png(tmp_path / "in" / "n.png", scale=0.15)
    noisy = read_image(source).rgb + np.random.default_rng(0).normal(0, 0.02, (48, 64, 3)).astype(np.float32)
    write_image(source, ImageData(np.clip(noisy, 0, 1)))
    model = ["-m", "lowface-restore-real", "--no-gate", "-q"]
    assert run_cli("enhance", str(source), "-o", str(tmp_path / "own"), *model).exit_code == 0
    assert "denoise" not in json.loads((tmp_path / "own" / ".n.png.lowface.json").read_text())["recipe"]
    out = tmp_path / "out"
    assert run_cli("enhance", str(source), "-o", str(out), *model, "--denoise", "0.3").exit_code == 0
    assert json.loads((out / ".n.png.lowface.json").read_text())["recipe"]["denoise"] == 0.3
    grainier, own = read_image(out / "n.png").rgb, read_image(tmp_path / "own" / "n.png").rgb
    assert np.abs(grainier - own).mean() > 2 / 255
    assert "1 skipped" in run_cli("enhance", str(source), "-o", str(out), *model, "--denoise", "0.3").stderr
    assert "1 enhanced" in run_cli("enhance", str(source), "-o", str(out), *model, "--denoise", "0.6").stderr


@pytest.mark.slow
def test_a_record_beside_another_file_is_redone_not_skipped(tmp_path: Path):
    """A replacement interrupted between writing the record and renaming the output: the rerun redoes it."""
    source = dark_png(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    assert run_cli("enhance", str(source), "-o", str(out), "-m", "gamma", "-q").exit_code == 0
    record = json.loads((out / ".a.png.lowface.json").read_text())
    assert record["output_sha256"] == hashlib.sha256((out / "a.png").read_bytes()).hexdigest()
    dark_png(out / "a.png", seed=5)  # the file the record does not describe
    again = run_cli("enhance", str(source), "-o", str(out), "-m", "gamma", "-q")
    assert again.exit_code == 0 and "1 enhanced" in again.stderr
    assert hashlib.sha256((out / "a.png").read_bytes()).hexdigest() == record["output_sha256"]


@pytest.mark.slow
def test_an_output_not_made_by_lowface_is_kept_and_the_exit_code_says_so(tmp_path: Path):
    source = dark_png(tmp_path / "in" / "a.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"the user's own file")
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out"), "-m", "gamma", "-q")
    assert result.exit_code == 1 and "kept" in result.stderr and "--overwrite" in result.stderr
    assert (tmp_path / "out" / "a.png").read_bytes() == b"the user's own file"
    assert (
        run_cli("enhance", str(source), "-o", str(tmp_path / "out"), "-m", "gamma", "-q", "--overwrite").exit_code == 0
    )


@pytest.mark.slow
def test_nothing_found_is_an_error_not_a_quiet_success(tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("x")
    result = run_cli("enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q")
    assert result.exit_code == 1 and "no images or videos found" in result.output and "1 .txt" in result.output


@pytest.mark.parametrize(
    ("given", "message"),
    [("missing.jpg", "missing.jpg: no such file or folder"), ("folder", "folder is a folder; give an output folder")],
)
def test_one_file_output_names_what_is_wrong_with_its_input(tmp_path: Path, given: str, message: str):
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match=re.escape(message)):
        plan_jobs([tmp_path / given], tmp_path / "out.jpg")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tile", "-5"], "Invalid value for '--tile'"),
        (["--half", "--device", "cpu"], "half precision needs a CUDA device"),
        (["--device", "gpu"], "unknown device 'gpu'; use auto, cpu, cuda, cuda:N or mps"),
        (["--format", "png", "-o", "{out}/a.jpg"], "--format png contradicts -o"),
        (["-o", "{out}/a.mp4"], "is an image; -o"),
        (["{second}", "-o", "{out}/a.jpg"], "names one file, but the inputs are 2"),
        (["--strength", "2"], "Invalid value for '--strength'"),
        (["--denoise", "1.5"], "Invalid value for '--denoise'"),
        (["-m", "gamma", "--denoise", "0.5"], "gamma: this model has no denoiser"),
        (["-m", "no-such-model"], "unknown model 'no-such-model'"),
        (["{clip}", "--codec", "vp9", "-o", "{out}/c.avi"], "a .avi file cannot hold vp9"),
        (["{clip}", "--codec", "mpeg4", "--crf", "40", "-o", "{out}/c.mp4"], "video quality for mpeg4 must be in"),
    ],
)
def test_bad_options_are_refused_before_any_work_with_one_line(tmp_path: Path, extra: list[str], message: str):
    image, second = dark_png(tmp_path / "a.png"), dark_png(tmp_path / "b.png", seed=3)
    clip = tmp_path / "c.avi"
    clip.write_bytes(b"")  # never opened: refused before
    values = {"out": tmp_path / "out", "second": second, "clip": clip}
    args = [a.format(**values) for a in extra]
    inputs = [str(clip)] if "{clip}" in extra else [str(image)]
    args = [a for a in args if a != str(clip)]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out")]
    result = run_cli("enhance", *inputs, *args, "-q")
    assert result.exit_code == 2 if "Invalid value" in message else result.exit_code == 1
    assert message in result.output, result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_synth_list_needs_no_arguments():
    result = run_cli("synth", "--list")
    assert result.exit_code == 0 and "camera-range" in result.output


# ---- photos ----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_exif_and_icc_survive_and_orientation_is_reset_once_applied(tmp_path: Path):
    profile = b"lowface test ICC profile" * 20  # carried as bytes: any payload shows the round trip
    pixels = (smooth_test_image(40, 64) * 50).astype(np.uint8)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112], exif[0x010F] = 6, "lowface camera"  # rotate 90 degrees clockwise; Make
    for suffix in (".jpg", ".png", ".webp", ".tif", ".avif"):
        source = tmp_path / f"in{suffix}"
        image.save(source, exif=exif.tobytes(), icc_profile=profile, **({"quality": 95} if suffix == ".jpg" else {}))
        out = tmp_path / f"out{suffix}"
        assert run_cli("enhance", str(source), "-o", str(out), "-m", "gamma", "-q").exit_code == 0
        written = Image.open(out)
        assert written.info.get("icc_profile") == profile, suffix
        kept = written.getexif()
        assert kept.get(0x010F) == "lowface camera" and kept.get(0x0112, 1) == 1, suffix  # (AVIF: no tag, upright)
        assert written.size == (40, 64)  # turned once, on read


@pytest.mark.slow
def test_sixteen_bit_png_keeps_its_depth_and_metadata(tmp_path: Path):
    from lowface.io import encode_image

    data = ImageData(smooth_test_image() * 0.2, bit_depth=16, exif=Image.Exif().tobytes(), icc=b"icc" * 50)
    (tmp_path / "a.png").write_bytes(encode_image(data, ".png"))
    assert (
        run_cli("enhance", str(tmp_path / "a.png"), "-o", str(tmp_path / "o.png"), "-m", "gamma", "-q").exit_code == 0
    )
    back = read_image(tmp_path / "o.png")
    assert back.bit_depth == 16 and back.icc == b"icc" * 50


@pytest.mark.slow
def test_a_well_exposed_file_the_gate_leaves_alone_is_copied_byte_for_byte(tmp_path: Path):
    source = tmp_path / "bright.jpg"
    Image.fromarray((smooth_test_image() * 0.8 * 255 + 20).astype(np.uint8)).save(source, quality=70)
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out"), "-q")
    assert result.exit_code == 0 and "1 copied unchanged" in result.stderr
    assert (tmp_path / "out" / "bright.jpg").read_bytes() == source.read_bytes()
    assert json.loads((tmp_path / "out" / ".bright.jpg.lowface.json").read_text())["made"] == "copied"
    zero = run_cli(
        "enhance", str(dark_png(tmp_path / "d.png")), "-o", str(tmp_path / "z"), "-m", "gamma", "--strength", "0"
    )
    assert (tmp_path / "z" / "d.png").read_bytes() == (tmp_path / "d.png").read_bytes() and zero.exit_code == 0


@pytest.mark.slow
def test_heic_is_read_and_written(tmp_path: Path):
    import pillow_heif  # noqa: F401  (registers HEIF with PIL through lowface.io as well)

    source = tmp_path / "phone.heic"
    Image.fromarray((smooth_test_image(64, 96) * 40).astype(np.uint8)).save(source, format="HEIF", quality=90)
    result = run_cli("enhance", str(tmp_path), "-o", str(tmp_path / "out"), "-m", "gamma", "-q")
    assert result.exit_code == 0 and "1 enhanced" in result.stderr, result.output
    out = read_image(tmp_path / "out" / "phone.heic")
    assert out.size == (64, 96) and out.rgb.mean() > 1.5 * read_image(source).rgb.mean()


@pytest.mark.slow
def test_a_motion_photo_keeps_its_keywords_and_no_longer_claims_its_video(tmp_path: Path):
    """A phone's motion photo: a JPEG whose XMP lists a video appended after its last byte (and a gain map, and the
    photographer's keywords). The output is a plain JPEG: the keywords and rating are kept, the orientation says 1,
    and nothing claims a video or gain map that the file no longer carries (galleries would look for them)."""
    source = photo_with_xmp(tmp_path / "PXL_night.MP.jpg")
    source.write_bytes(source.read_bytes() + b"\0\0\0\x18ftypmp42" + bytes(2024))  # the video after the JPEG
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out"), "-m", "gamma", "-q")
    assert result.exit_code == 0, result.output
    written = (tmp_path / "out" / source.name).read_bytes()
    assert written.endswith(b"\xff\xd9") and b"ftypmp42" not in written
    xmp = Image.open(tmp_path / "out" / source.name).info["xmp"].decode()
    assert "<rdf:li>night</rdf:li>" in xmp and 'xmp:Rating="4"' in xmp and 'tiff:Orientation="1"' in xmp
    assert "MotionPhoto" not in xmp and "Container:Directory" not in xmp and "hdrgm:Version" not in xmp


@pytest.mark.slow
def test_an_hdr_heic_is_enhanced_as_sdr_and_says_so(tmp_path: Path):
    """A PQ photo (a camera's HDR HEIF) is read as SDR and written as SDR, as HDR video is, and the user is told,
    on the CLI (and its --json notes) and as the API's warning; a 10-bit SDR photo says nothing."""
    import warnings

    import pillow_heif

    import lowface

    pq = {"color_primaries": 9, "transfer_characteristics": 16, "matrix_coefficients": 9, "full_range_flag": 1}
    for name, nclx in (("hdr.heic", pq), ("sdr.heic", None)):
        pixels = (smooth_test_image(48, 64) * 0.3 * 65535).astype(np.uint16)  # PQ 0.3: about 5 cd/m2, a dark scene
        options = {"nclx_profile": nclx} if nclx else {}
        heif = pillow_heif.from_bytes(mode="RGB;16", size=(64, 48), data=pixels.tobytes())
        heif.save(tmp_path / name, quality=90, **options)
    result = run_cli("enhance", str(tmp_path / "hdr.heic"), str(tmp_path / "sdr.heic"), "-o", str(tmp_path / "out"),
                     "-m", "gamma", "--json", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert notes == [
        {"source": str(tmp_path / "hdr.heic"), "note": "HDR photo (PQ): enhanced and written as SDR (BT.709)"}
    ]
    assert "hdr.heic: HDR photo (PQ)" in result.stderr and "sdr.heic:" not in result.stderr
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lowface.enhance(tmp_path / "hdr.heic", model="gamma", output=tmp_path / "api.heic")
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'hdr.heic'}: HDR photo (PQ): enhanced and written as SDR (BT.709)"
    ]


@pytest.mark.slow
def test_camera_raw_is_developed_and_written_as_sixteen_bit_tiff(tmp_path: Path):
    pytest.importorskip("tifffile")
    source = write_dng(tmp_path / "night.dng")
    developed = read_image(source)
    assert developed.bit_depth == 16 and developed.size == (64, 96)
    result = run_cli("enhance", str(tmp_path), "-o", str(tmp_path / "out"), "-m", "gamma", "-q")
    assert result.exit_code == 0, result.output
    out = read_image(tmp_path / "out" / "night.tif")
    assert out.bit_depth == 16 and out.rgb.mean() > developed.rgb.mean()


# ---- video -----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_video_keeps_audio_timestamps_and_rotation_and_is_h264(tmp_path: Path):
    source = make_clip(tmp_path / "clip.mp4")
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out"), "-m", "gamma", "-q")
    assert result.exit_code == 0, result.output
    before, after = streams(source), streams(tmp_path / "out" / "clip.mp4")
    assert after["codecs"] == ["h264", "aac"]
    assert after["pts"] == before["pts"]  # every frame once, in order, at its own time (variable rate)
    assert after["audio"] == before["audio"]  # audio packets copied untouched
    assert after["rotation"] == before["rotation"] == {90}
    assert min(a - b for a, b in zip(after["levels"], before["levels"], strict=True)) > 10  # each frame brighter
    webm = run_cli("enhance", str(source), "-o", str(tmp_path / "v.webm"),
                   "-m", "gamma", "-q")  # fmt: skip
    assert webm.exit_code == 0, webm.output
    assert streams(tmp_path / "v.webm")["codecs"] == ["vp9", "opus"]  # WebM cannot hold AAC: re-encoded


def test_a_video_with_a_damaged_packet_is_enhanced_without_it_and_says_so(tmp_path: Path):
    """A corrupted piece of a recording (one packet of 30) costs its frame, not the whole video: the rest is enhanced
    at its own times, and the user is told."""
    source = damaged_clip(tmp_path / "cctv.mp4")
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out.mp4"), "-m", "gamma", "-q", "--json")
    assert result.exit_code == 0, result.output
    assert re.search(r"cctv\.mp4: 1 damaged video packet\(s\) skipped, the first at \d+\.\d\d s", result.stderr)
    [note] = json.loads(result.stdout)["notes"]  # and in the JSON outcome
    assert note["source"] == str(source) and note["note"].startswith("1 damaged video packet(s) skipped")
    with av.open(str(source)) as container:
        readable = [frame.pts for packet in container.demux(video=0) for frame in _decoded_or_none(packet)]
    after = streams(tmp_path / "out.mp4")
    assert len(readable) == 29 and after["pts"] == readable  # every readable frame once, at its own time
    assert len(list(read_video_frames(source))) == 29  # the API's reader skips it too


@pytest.mark.parametrize("kept", [0.5, 0.97])  # the index not written at all / cut short
def test_an_mp4_cut_off_mid_recording_is_named_as_such(tmp_path: Path, kept: float):
    """A phone or dashcam that stops mid-recording leaves the media data without the index it writes last: the
    error says so (FFmpeg's own words were "Invalid data" or "no video stream"), and a whole file is not taken for
    one."""
    whole = make_clip(tmp_path / "whole.mp4", frames=30, panning=True)  # PyAV writes the index (moov) at the end
    data = whole.read_bytes()
    (tmp_path / "dashcam.mp4").write_bytes(data[: int(len(data) * kept)])
    result = run_cli("enhance", str(tmp_path / "dashcam.mp4"), "-o", str(tmp_path / "out.mp4"), "-m", "gamma", "-q")
    assert result.exit_code == 1
    assert "dashcam.mp4: an MP4 / MOV file whose recording was cut off before it was finished" in result.stderr
    assert not unfinished_mp4(whole) and not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_a_video_cut_short_is_enhanced_to_its_end_and_says_so(tmp_path: Path, suffix: str):
    """A download or copy interrupted part-way (an MP4 with its index first, a Matroska file, an AVI): the frames
    that are there are enhanced, exit code 0, and the user is told that the file ends before its index or header says
    it does, instead of getting a shorter video without a word. The whole file says nothing."""
    whole = make_clip(tmp_path / f"whole{suffix}", frames=60, panning=True, index_first=True)
    data = whole.read_bytes()
    kept = 0.3 if suffix == ".avi" else 0.6  # (an AVI's index at its end is half the file)
    (tmp_path / f"download{suffix}").write_bytes(data[: int(len(data) * kept)])
    inputs = [str(tmp_path / f"download{suffix}"), str(whole)]
    result = run_cli("enhance", *inputs, "-o", str(tmp_path / "out"), "-m", "gamma", "-q", "--json")
    assert result.exit_code == 0, result.output
    [note] = json.loads(result.stdout)["notes"]
    assert note["source"] == inputs[0] and note["note"].startswith("the file is cut short (")
    assert re.search(rf"download{suffix}: the file is cut short .* the video ends at \d+\.\d\d s of 3\.\d\d s",
                     result.stderr), result.stderr  # fmt: skip
    assert 0 < len(streams(tmp_path / "out" / f"download{suffix}")["pts"]) < 60
    assert len(streams(tmp_path / "out" / f"whole{suffix}")["pts"]) == 60
    if suffix == ".mp4":  # fewer packets than samples in a whole MP4 (what an edit list's trim leaves) is no cut
        with av.open(str(whole)) as container:
            assert cut_short(container, container.streams.video[0], 0, 0.5) is None


def _decoded_or_none(packet) -> list:
    try:
        return packet.decode()
    except av.error.InvalidDataError:
        return []


@pytest.mark.slow
def test_fast_encoding_uses_the_faster_x264_preset_and_is_recorded(tmp_path: Path):
    """--encode-speed fast: x264's ultrafast settings (its SEI names them: CAVLC, me=dia, no macroblock tree; the
    default, veryfast without inter sub-partitions and with sub-pixel refinement 1: me=hex, mbtree=1,
    analyse=0x3:0x3, subme=1), the same frames and timestamps; the speed is part of the record, so the default
    redoes the output."""
    import json

    source = make_clip(tmp_path / "clip.mp4")
    out = tmp_path / "out" / "clip.mp4"
    fast = run_cli("enhance", str(source), "-o", str(tmp_path / "out"), "-m", "gamma", "--encode-speed", "fast", "-q")
    assert fast.exit_code == 0, fast.output
    settings = out.read_bytes()
    assert all(f"{setting} ".encode() in settings for setting in ("cabac=0", "me=dia", "subme=0", "mbtree=0"))
    assert streams(out)["pts"] == streams(source)["pts"]
    assert json.loads((out.parent / f".{out.name}.lowface.json").read_text())["recipe"]["encode_speed"] == "fast"
    again = run_cli("enhance", str(source), "-o", str(tmp_path / "out"), "-m", "gamma", "-q")
    assert again.exit_code == 0 and "1 enhanced" in again.stderr  # redone, not skipped
    default = out.read_bytes()
    assert all(f"{setting} ".encode() in default for setting in ("analyse=0x3:0x3", "me=hex", "subme=1", "mbtree=1"))
    from lowface.inference.jobs import OutputOptions

    with pytest.raises(ValueError, match="unknown encode speed 'slow'; use one of balanced, fast"):
        OutputOptions(encode_speed="slow")  # from the Python API: refused before any work


def test_a_camera_mov_with_a_timecode_track_is_enhanced_with_its_timecode_kept(tmp_path: Path):
    """The timecode track is a data stream, which the MOV muxer refuses as packets (the whole file failed, and the
    probe's AttributeError stopped the batch): data streams are left out, said per file, and the timecode goes on as
    metadata - a tmcd track again in MOV, a tag in Matroska; the audio is copied."""
    import av

    source = camera_mov(tmp_path / "camera.mov")
    assert [s.type for s in av.open(str(source)).streams] == ["video", "audio", "data"]
    for suffix in (".mov", ".mkv"):
        result = run_cli("enhance", str(source), "-o", str(tmp_path / f"out{suffix}"), "-m", "gamma")
        assert result.exit_code == 0, result.output
        assert f"{source}: 1 data stream(s) not copied" in result.stderr
        with av.open(str(tmp_path / f"out{suffix}")) as container:
            tags = {key.lower(): value for key, value in container.streams.video[0].metadata.items()}
            assert tags["timecode"] == "01:02:03:04"
            assert [s.type for s in container.streams][:2] == ["video", "audio"]
        copied, original = streams(tmp_path / f"out{suffix}")["audio"], streams(source)["audio"]
        assert [data for _, data in copied] == [data for _, data in original]  # (Matroska shifts every stream's
        # timestamps by the AAC priming, 64 ms, to start at 0)


def test_videos_in_containers_that_are_read_not_written_come_out_as_mp4(tmp_path: Path):
    """A camcorder's MPEG-TS (.mts, H.264 + AC-3), an MPEG-2 program stream (.mpg) and a CCTV recorder's raw H.264
    stream (no container, no timestamps): each enhanced into an .mp4 with its frames, its duration at the stream's
    rate and its audio; writing such a container is refused by name."""
    import av

    def write(path: Path, container_format: str, codec: str, audio: str | None) -> Path:
        with av.open(str(path), "w", format=container_format) as out:
            video = out.add_stream(codec, rate=25)
            video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
            sound = out.add_stream(audio, rate=48000, layout="mono") if audio else None  # (every stream first)
            mux_frames(out, video, dark_frames(12))
            if sound is not None:
                mux_frames(out, sound, audio_frames(sound, 0.2))
        return path

    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "camcorder.mts", "mpegts", "libx264", "ac3")
    write(folder / "archive.mpg", "mpeg", "mpeg2video", None)
    write(folder / "dvr.h264", "h264", "libx264", None)
    result = run_cli("enhance", str(folder), "-o", str(tmp_path / "out"), "-m", "gamma")
    assert result.exit_code == 0 and "3 enhanced, 0 failed" in result.stderr, result.output
    for name, audio in (("camcorder", ["ac3"]), ("archive", []), ("dvr", [])):
        with av.open(str(tmp_path / "out" / f"{name}.mp4")) as container:
            video = container.streams.video[0]
            times = [frame.pts for frame in container.decode(video)]
            assert [s.codec_context.name for s in container.streams.audio] == audio
        assert len(times) == 12 and float((times[-1] - times[0]) * video.time_base) == pytest.approx(11 / 25, abs=1e-3)
    refused = run_cli("enhance", str(folder / "dvr.h264"), "-o", str(tmp_path / "dvr.ts"), "-m", "gamma")
    assert refused.exit_code != 0 and "cannot write .ts videos; use one of" in refused.output
    from lowface.io.files import WRITABLE_VIDEO_SUFFIXES
    from lowface.io.video_output import CONTAINERS

    assert set(CONTAINERS) == WRITABLE_VIDEO_SUFFIXES  # the suffix list (no FFmpeg import) and the writer agree


def test_an_anamorphic_video_keeps_its_display_shape(tmp_path: Path):
    """HDV / DV / DVD store wide pictures in narrower frames with non-square pixels: 144x108 at 4:3 pixels shows
    16:9. The output keeps the pixel shape (it was written square: the picture squeezed to 4:3)."""
    from fractions import Fraction

    import av

    source = tmp_path / "hdv.mp4"
    with av.open(str(source), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 144, 108, "yuv420p"
        video.codec_context.sample_aspect_ratio = Fraction(4, 3)
        mux_frames(out, video, dark_frames(3, 108, 144))
    for suffix in (".mp4", ".mkv"):
        assert run_cli("enhance", str(source), "-o", str(tmp_path / f"out{suffix}"), "-m", "gamma").exit_code == 0
        with av.open(str(tmp_path / f"out{suffix}")) as container:
            stream = container.streams.video[0]
            assert (stream.sample_aspect_ratio, stream.display_aspect_ratio) == (Fraction(4, 3), Fraction(16, 9))


def test_the_video_is_its_largest_stream_that_is_not_cover_art(tmp_path: Path):
    """A one-frame picture stored before the video (cover art, a thumbnail) was taken for the video: its one frame
    was enhanced and the real video copied untouched. The largest video stream is enhanced now, the picture copied."""
    import av

    source = tmp_path / "with-cover.mkv"
    with av.open(str(source), "w") as out:
        cover = out.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        picture = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 200, np.uint8), format="rgb24")
        mux_frames(out, cover, [picture.reformat(format="yuvj420p")])
        mux_frames(out, video, dark_frames(5))
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out.mkv"), "-m", "gamma")
    assert result.exit_code == 0 and "5 frames" in result.stderr, result.output
    with av.open(str(tmp_path / "out.mkv")) as container:
        sizes = {s.index: (s.codec_context.name, s.codec_context.width) for s in container.streams.video}
    assert sorted(sizes.values()) == [("h264", 64), ("mjpeg", 32)]  # the picture copied as it was


def test_an_unexpected_error_fails_its_file_only(tmp_path: Path, monkeypatch):
    """A bug in one file's path (here a probe that raises AttributeError) is reported for that file, named, and the
    batch goes on."""
    from lowface.inference import batch

    def broken(path):
        raise AttributeError("'NoneType' object has no attribute 'name'")

    monkeypatch.setattr(batch, "probe_video", broken)
    (tmp_path / "in").mkdir()
    make_clip(tmp_path / "in" / "clip.mp4")
    dark_png(tmp_path / "in" / "photo.png")
    result = run_cli("enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m", "gamma")
    assert result.exit_code == 1
    assert "1 enhanced, 1 failed" in result.stderr
    assert f"{tmp_path / 'in' / 'clip.mp4'}: internal error (AttributeError: " in result.stderr
    assert (tmp_path / "out" / "photo.png").exists()


def test_images_run_two_at_a_time_and_are_reported_in_order_with_a_bad_one_failing_alone(tmp_path: Path, monkeypatch):
    """On a CPU with two threads, images run on two worker threads (one thread each); the report lists them in the
    order of the jobs whatever order they finish in, a file that cannot be read fails alone, and the outputs are
    those that one image at a time made."""
    import threading
    import time

    import torch

    from lowface.inference import batch

    folder = tmp_path / "in"
    for i in range(6):
        dark_png(folder / f"{i}.png", seed=i)
    (folder / "3.png").write_bytes(b"not a png")
    alone = run_cli("enhance", str(folder), "-o", str(tmp_path / "alone"), "-m", "gamma", "--threads", "1")
    assert alone.exit_code == 1 and "5 enhanced, 1 failed" in alone.stderr
    seen, make = [], batch.make_image_output

    def slow_first(enhancer, job, *args):  # the first image finishes last
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        time.sleep(0.5 if job.source.name == "0.png" else 0.0)
        return make(enhancer, job, *args)

    monkeypatch.setattr(batch, "make_image_output", slow_first)
    result = run_cli("enhance", str(folder), "-o", str(tmp_path / "out"), "-m", "gamma", "--threads", "2")
    assert result.exit_code == 1 and "5 enhanced, 1 failed" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("[") or line.startswith("error:")]
    assert [re.search(r"(\d)\.png", line).group(1) for line in lines] == ["0", "1", "2", "3", "4", "5"]
    assert "error:" in lines[3] and "3.png" in lines[3]
    assert {name.split("_")[0] for name, _ in seen} == {"lowface-image"} and {n for _, n in seen} == {1}
    assert len({name for name, _ in seen}) == 2
    for i in (0, 1, 2, 4, 5):
        assert (tmp_path / "out" / f"{i}.png").read_bytes() == (tmp_path / "alone" / f"{i}.png").read_bytes()


def test_hevc_output_is_tagged_for_apple_players_and_keeps_frames_and_audio(tmp_path: Path):
    """--codec hevc: x265 in MP4 with the 'hvc1' sample entry (Apple's players and browsers refuse FFmpeg's default
    'hev1'), every frame at its time, the audio copied; WebM cannot hold it and says so before any work."""
    import av

    source = make_clip(tmp_path / "clip.mp4")
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out.mp4"), "-m", "gamma", "--codec", "hevc")
    assert result.exit_code == 0, result.output
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert (container.streams.video[0].codec_context.name, container.streams.video[0].codec_tag) == ("hevc", "hvc1")
    before, after = streams(source), streams(tmp_path / "out.mp4")
    assert after["pts"] == before["pts"] and after["audio"] == before["audio"] and after["rotation"] == {90}
    refused = run_cli("enhance", str(source), "-o", str(tmp_path / "out.webm"), "-m", "gamma", "--codec", "hevc")
    assert refused.exit_code != 0 and "a .webm file cannot hold hevc" in refused.output


def test_frames_finished_several_at_once_are_written_in_order_and_a_failure_leaves_no_output(tmp_path: Path):
    """FrameStages: ``prepare`` sees the frames in order, ``finish`` runs on three worker threads and the even frames
    take longer, so they finish out of order; the file has every frame once, in order, at its own time, with the
    audio; a frame that fails stops the video and leaves no file behind."""
    import time

    from lowface.io.video import FrameStages, transcode

    source = make_clip(tmp_path / "clip.mp4", frames=12)
    seen = []

    def prepare(rgb: np.ndarray) -> int:
        seen.append(len(seen))
        return seen[-1]

    def finish(index: int) -> np.ndarray:
        time.sleep(0.05 if index % 2 == 0 else 0.0)
        return np.full((48, 64, 3), (index + 1) * 15 / 255, np.float32)

    stages = FrameStages(prepare, finish, workers=3)
    assert transcode(source, tmp_path / "out.mp4", stages) == 12
    before, after = streams(source), streams(tmp_path / "out.mp4")
    assert seen == list(range(12))
    assert after["pts"] == before["pts"] and after["audio"] == before["audio"]
    assert np.allclose(after["levels"], [(i + 1) * 15 for i in range(12)], atol=2)

    def failing(index: int) -> np.ndarray:
        if index == 5:
            raise RuntimeError("frame 5 failed")
        return finish(index)

    seen.clear()
    with pytest.raises(RuntimeError, match="frame 5 failed"):
        transcode(source, tmp_path / "failed.mp4", FrameStages(prepare, failing, workers=3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mp4"]  # no partial file either


def test_an_encoder_that_fails_when_flushed_fails_the_video_instead_of_hanging(tmp_path: Path):
    """The writer thread failed after the end marker had arrived (the encoder's flush) and then waited for another
    one: the CLI hung for ever (a stream whose frame size changed midway did that)."""
    import threading
    from fractions import Fraction
    from types import SimpleNamespace

    import av

    from lowface.io.video import pipeline

    class FlushFails:
        pix_fmt, width, height, codec_context = "rgb24", 64, 48, SimpleNamespace(framerate=Fraction(25))

        def encode(self, frame):
            if frame is None:
                raise RuntimeError("the encoder's flush failed")
            return []

    source = make_clip(tmp_path / "clip.mp4", frames=4, audio=False)
    with av.open(str(source)) as container:
        items = [("frame", frame) for frame in container.decode(video=0)]
    outcome = []

    def run() -> None:
        try:
            pipeline(iter(items), SimpleNamespace(mux=lambda packet: None), FlushFails(), {}, Fraction(1, 1000), None,
                     None)  # fmt: skip
        except RuntimeError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the pipeline hung"
    assert [str(e) for e in outcome] == ["the encoder's flush failed"]


def test_a_stream_whose_frame_size_changes_is_written_at_its_first_size(tmp_path: Path):
    """A broadcast capture or stream recording can change resolution midway (two MPEG-TS pieces here, 64x48 then
    96x64): every frame is written, at its own time, scaled to the first size as FFmpeg's tool does."""
    import av

    def piece(width: int, height: int, start: int) -> bytes:
        path = tmp_path / f"{width}.ts"
        with av.open(str(path), "w", format="mpegts") as out:
            video = out.add_stream("libx264", rate=25)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            frames = dark_frames(6, height, width)
            for frame in frames:
                frame.pts += start
            mux_frames(out, video, frames)
        return path.read_bytes()

    source = tmp_path / "capture.ts"
    source.write_bytes(piece(64, 48, 0) + piece(96, 64, 8))
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out.mp4"), "-m", "gamma")
    assert result.exit_code == 0, result.output
    with av.open(str(source)) as container:
        before = [(frame.pts, frame.width) for frame in container.decode(video=0)]
    with av.open(str(tmp_path / "out.mp4")) as container:
        after = [(frame.pts, frame.width, frame.height) for frame in container.decode(video=0)]
    assert {width for _, width in before} == {64, 96}
    assert [pts for pts, _ in before] == [pts for pts, _, _ in after]
    assert {(width, height) for _, width, height in after} == {(64, 48)}


def test_a_ten_bit_source_keeps_its_shadow_levels_through_the_brightening(tmp_path: Path):
    """A 10-bit source is decoded at 16 bits, not 8: a dark ramp of 64 ten-bit levels brightened eightfold keeps its
    levels apart (an 8-bit decode merges them four by four into 16: banding), and a frame left alone comes back as
    the same 8-bit picture."""
    import av

    from lowface.io.video import transcode
    from lowface.io.video_input import read_video_frames

    ramp = np.repeat(np.repeat(np.arange(64, dtype=np.uint16)[None, :, None], 16, 0), 3, 2) * 64  # 0..63 of 1023
    source = tmp_path / "deep.mkv"
    with av.open(str(source), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 16, "gbrp10le"
        for _ in range(2):
            for packet in stream.encode(av.VideoFrame.from_ndarray(ramp, format="rgb48le")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    decoded = next(read_video_frames(source))
    assert len(np.unique(decoded[8, :, 1])) == 64  # at its own precision
    target = tmp_path / "bright.mkv"
    assert transcode(source, target, lambda rgb: np.clip(rgb * 8, 0, 1), codec="h264", quality=0) == 2
    with av.open(str(target)) as container:
        luma = next(container.decode(video=0)).to_ndarray(format="gray")[8]
    assert len(np.unique(luma)) >= 60  # 8-bit decoding leaves 16 levels
    assert transcode(source, tmp_path / "same.mkv", None, codec="h264", quality=0) == 2
    with av.open(str(tmp_path / "same.mkv")) as container:
        same = next(container.decode(video=0)).to_ndarray(format="gray")[8].astype(int)
    assert np.abs(same - np.arange(64) / 1023 * 255).max() < 2  # v / 1023 of full scale, + 8-bit YUV rounding


@pytest.mark.slow
def test_video_output_plays_in_a_browser(tmp_path: Path):
    """Chromium decodes the H.264 output and shows it turned by its rotation (a screenshot of the page)."""
    from samples import browser

    chromium = browser()
    if chromium is None:
        pytest.skip("no chromium on this machine (make browser): the video was not played")
    source = make_clip(tmp_path / "clip.mp4", frames=30)
    assert run_cli("enhance", str(source), "-o", str(tmp_path / "clip-out.mp4"), "-m", "gamma", "-q").exit_code == 0
    page = tmp_path / "play.html"
    page.write_text(
        '<html><body style="margin:0;background:#000"><video src="clip-out.mp4" muted autoplay playsinline '
        'style="display:block"></video></body></html>'
    )
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
         "--autoplay-policy=no-user-gesture-required", "--window-size=200,200", "--virtual-time-budget=3000",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=120,
    )  # fmt: skip
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    shown, outside = pixels[:64, :48], pixels[:, 60:]  # 64x48 stored, turned 90 degrees: 48 wide, 64 high
    assert outside.mean() < 1 and shown.min(axis=(0, 1)).max() > 0, "the video was not drawn"
    assert shown.mean() > 1.5 * 50 * smooth_test_image().mean()  # the enhanced frames, brighter than the clip's


# ---- streams and the API -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_stdin_to_stdout_and_json_summary(tmp_path: Path):
    source = dark_png(tmp_path / "a.png")
    command = [sys.executable, "-m", "lowface.cli", "enhance", "-", "-o", "-", "--format", "png", "-m", "gamma"]
    piped = subprocess.run(command, input=source.read_bytes(), capture_output=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    via_file = run_cli("enhance", str(source), "-o", str(tmp_path / "b.png"), "-m", "gamma", "-q")
    assert via_file.exit_code == 0
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(piped.stdout))), np.asarray(Image.open(tmp_path / "b.png")))
    summary = run_cli("enhance", str(source), "-o", str(tmp_path / "c"), "-m", "gamma", "-q", "--json")
    assert json.loads(summary.stdout)["enhanced"] == [str(tmp_path / "c" / "a.png")]


@pytest.mark.slow
def test_compare_writes_before_and_after_side_by_side(tmp_path: Path):
    source = dark_png(tmp_path / "in" / "sub" / "a.png")
    result = run_cli("enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m", "gamma", "-q",
                     "--compare", str(tmp_path / "cmp"))  # fmt: skip
    assert result.exit_code == 0
    sheet = read_image(tmp_path / "cmp" / "sub" / "a.jpg")
    height, width = read_image(source).size
    assert sheet.size == (height, 2 * width + 8)
    assert sheet.rgb[:, width + 8 :].mean() > 1.5 * sheet.rgb[:, :width].mean()


@pytest.mark.slow
def test_logs_get_plain_lines_not_escape_codes(tmp_path: Path):
    dark_png(tmp_path / "in" / "a.png")
    command = [
        sys.executable,
        "-m",
        "lowface.cli",
        "enhance",
        str(tmp_path / "in"),
        "-o",
        str(tmp_path / "o"),
        "-m",
        "gamma",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "\x1b" not in done.stderr and "\r" not in done.stderr
    assert "[1/1]" in done.stderr and "a.png" in done.stderr


@pytest.mark.slow
def test_version():
    assert re.search(r"version \d+\.\d+", run_cli("--version").output)


# ---- score ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_score_on_a_folder_gives_the_bench_values_for_the_same_images(lfw_faces, tmp_path: Path):
    from lowface.bench.real_pairs import detect_boxes, face_agreement, pair_fidelity
    from lowface.bench.rows import no_reference
    from lowface.face.detect import create_detector

    clean = [np.round(face * 255).astype(np.uint8) for face in lfw_faces[:3]]
    dark = [np.round(face * 0.25).astype(np.uint8) for face in clean]
    enhanced = [np.round(((d / 255.0) ** (1 / 2.2)) * 255).astype(np.uint8) for d in dark]
    for folder, images, suffix in (("ref", clean, ".png"), ("dark", dark, ".png"), ("enh", enhanced, ".png")):
        for i, image in enumerate(images):
            write_image(tmp_path / folder / f"{i}{suffix}", ImageData(image / np.float32(255)))
    (tmp_path / "ref" / "2.png").rename(tmp_path / "ref" / "2.tif")  # matched by relative path, any suffix
    out = tmp_path / "scores.json"
    result = run_cli("score", str(tmp_path / "enh"), "-r", str(tmp_path / "ref"), "--originals", str(tmp_path / "dark"),
                     "--detectors", "hog", "-o", str(out), "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())["summary"]
    expected = {**no_reference(enhanced, dark), **pair_fidelity(enhanced, clean)}
    for key, value in expected.items():
        assert summary[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    hog = create_detector("hog")
    agreement = face_agreement(detect_boxes(hog, enhanced), detect_boxes(hog, clean))
    assert (summary["found_hog"], summary["invented_hog"]) == (agreement["found"], agreement["invented"])
    assert summary["reference_faces_hog"] == agreement["reference_faces"] > 0
    csv_out = tmp_path / "scores.csv"
    assert run_cli("score", str(tmp_path / "enh"), "--detectors", "", "-o", str(csv_out), "-q").exit_code == 0
    lines = csv_out.read_text().splitlines()
    assert lines[0].startswith("file,niqe,brisque") and len(lines) == 1 + 3 + 1
    (tmp_path / "ref" / "1.png").unlink()
    missing = run_cli("score", str(tmp_path / "enh"), "-r", str(tmp_path / "ref"), "--detectors", "", "-q")
    assert missing.exit_code == 1 and "no reference for it" in missing.output


@pytest.mark.slow
def test_temporary_files_of_a_killed_attempt_are_removed_record_ones_too(tmp_path: Path):
    source = dark_png(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".a.png.x1y2.part").write_bytes(b"half an image")
    (out / "..a.png.lowface.json.z3w4.part").write_bytes(b'{"half a rec')
    assert run_cli("enhance", str(source), "-o", str(out), "-m", "gamma", "-q").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [".a.png.lowface.json", "a.png"]


def test_a_large_image_waits_for_the_small_ones_and_runs_alone_on_every_thread():
    """ImageTurns: small images compute side by side; a large one only when none other computes, with the batch's
    threads, and every worker's own thread count comes back afterwards."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from lowface.inference.batch import ImageTurns

    turns, lock = ImageTurns(threads=2), threading.Lock()
    running, overlaps, threads_seen = [], [], {}

    def job(name: str, pixels: int) -> None:
        with turns.run(pixels):
            with lock:
                running.append(name)
                overlaps.append(tuple(sorted(running)))
            threads_seen[name] = torch.get_num_threads()
            time.sleep(0.2)
            with lock:
                running.remove(name)

    small, large = 640 * 480, 4000 * 3000
    with ThreadPoolExecutor(2, initializer=lambda: torch.set_num_threads(1)) as pool:
        list(pool.map(lambda item: job(*item), [("s1", small), ("s2", small), ("L", large), ("s3", small)]))
        after = list(pool.map(lambda _: torch.get_num_threads(), range(2)))
    assert ("s1", "s2") in overlaps  # two small ones at once
    assert all(len(state) == 1 for state in overlaps if "L" in state)  # the large one alone
    assert threads_seen == {"s1": 1, "s2": 1, "L": 2, "s3": 1} and after == [1, 1]


def test_a_small_image_behind_a_large_one_reports_its_own_time_not_the_wait():
    """ImageTurns.waited: the seconds this thread waited for its turns, which a file's reported time leaves out (a
    thumbnail queued behind a 24-megapixel photo was reported as taking the photo's 8 s)."""
    import threading
    import time

    from lowface.inference.batch import ImageTurns

    turns, started, waits = ImageTurns(threads=2), threading.Event(), {}

    def large() -> None:
        with turns.run(4000 * 3000):
            started.set()
            time.sleep(0.3)
        waits["large"] = turns.waited()

    def small() -> None:
        started.wait()
        turns.waited()  # (reset: what came before is not this file's)
        with turns.run(640 * 480):
            pass
        waits["small"] = turns.waited()

    threads = [threading.Thread(target=large), threading.Thread(target=small)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert waits["large"] < 0.05 and 0.2 < waits["small"] < 0.35
    assert turns.waited() == 0.0  # this thread never waited


def test_score_leaves_a_blank_frame_out_of_the_no_reference_means(tmp_path: Path):
    from lowface.bench.rows import no_reference

    rng = np.random.default_rng(0)
    textured = [np.round(rng.random((200, 240, 3)) * 255 * k).astype(np.uint8) for k in (0.5, 1.0)]
    for i, image in enumerate([*textured, np.zeros((200, 240, 3), np.uint8)]):
        write_image(tmp_path / "enh" / f"{i}.png", ImageData(image / np.float32(255)))
    out = tmp_path / "scores.json"
    result = run_cli("score", str(tmp_path / "enh"), "--detectors", "", "-o", str(out), "-q")
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert [row["niqe"] for row in record["files"]][2] is None and record["files"][2]["brisque"] is None
    expected = no_reference(textured, None)
    assert record["summary"]["niqe"] == pytest.approx(expected["niqe"]) and np.isfinite(expected["niqe"])
    assert record["summary"]["brisque"] == pytest.approx(expected["brisque"])


# ---- animations -------------------------------------------------------------------------------------------


def _animation(
    path: Path, scales: list[float], durations: list[int], loop: int, alpha: bool = False
) -> list[np.ndarray]:
    """Frames of a smooth test image at each brightness scale, saved as one animation; returns the RGBA frames."""
    frames = []
    for i, scale in enumerate(scales):
        rgb = np.round(smooth_test_image(seed=i) * scale * 255).astype(np.uint8)
        opaque = np.full(rgb.shape[:2], 255, np.uint8)
        frames.append(
            np.dstack([rgb, np.where(np.arange(rgb.shape[1]) < rgb.shape[1] // 4, 0, opaque) if alpha else opaque])
        )
    images = [Image.fromarray(f if alpha else f[..., :3]) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=loop)
    return frames


@pytest.mark.slow
def test_animations_are_enhanced_frame_by_frame_keeping_timing_loop_and_alpha(tmp_path: Path):
    """GIF, APNG (with alpha), animated WebP and AVIF: every frame enhanced, in the same format, with each frame's
    duration, the loop count and the alpha plane kept; an animation the gate leaves alone is copied byte for byte."""
    source = tmp_path / "in"
    source.mkdir()
    _animation(source / "dark.gif", [0.10, 0.15, 0.20], [40, 80, 120], loop=0)
    apng = _animation(source / "dark.png", [0.12, 0.16], [30, 60], loop=2, alpha=True)
    _animation(source / "dark.webp", [0.1, 0.2, 0.1], [100, 50, 100], loop=1)
    _animation(source / "dark.avif", [0.1, 0.15], [70, 140], loop=0)
    _animation(source / "bright.gif", [0.9, 0.95], [100, 100], loop=0)
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out"), "-q")
    assert result.exit_code == 0, result.output
    for name, count, durations, loop in (("dark.gif", 3, [40, 80, 120], 0), ("dark.png", 2, [30, 60], 2),
                                         ("dark.webp", 3, [100, 50, 100], 1),
                                         ("dark.avif", 2, [70, 140], 0)):  # fmt: skip
        before, after = Image.open(source / name), Image.open(tmp_path / "out" / name)
        assert (after.format, after.n_frames, after.info.get("loop", 0)) == (before.format, count, loop), name
        for i in range(count):
            before.seek(i)
            after.seek(i)
            after.load()
            assert after.info["duration"] == durations[i], name
            lift = np.asarray(after.convert("RGB"), np.float32).mean() / np.asarray(before.convert("RGB")).mean()
            assert lift > 1.5, (name, i, lift)
    out_png = Image.open(tmp_path / "out" / "dark.png")
    for i, frame in enumerate(apng):
        out_png.seek(i)
        assert np.array_equal(np.asarray(out_png.convert("RGBA"))[..., 3], frame[..., 3])
    assert (tmp_path / "out" / "bright.gif").read_bytes() == (source / "bright.gif").read_bytes()
