"""The video encoder's options: the same frames give the same H.264 stream on every run, at both encode speeds."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import av
import pytest
import torch

from lowface.io import video_output
from lowface.io.video_output import ENCODE_SPEEDS, quality_options
from samples import panning_frames


def encoded_stream(frames: list, options: dict[str, str]) -> str:
    """The sha256 of the H.264 packets x264 makes of ``frames`` with ``options`` (no container: Matroska writes a
    random segment id)."""
    digest = hashlib.sha256()
    context = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
    context.time_base, context.options = Fraction(1, 30), options
    for frame in [*frames, None]:
        for packet in context.encode(frame):
            digest.update(bytes(packet))
    return digest.hexdigest()


@pytest.mark.parametrize("speed", ENCODE_SPEEDS)
def test_the_same_frames_give_the_same_h264_stream_on_every_run(speed: str):
    # 320x240 is one of the sizes at which x264's AVX-512 routines gave 2-4 different streams in 8 encodes
    frames = panning_frames(24, height=240, width=320, noise=0.03)
    streams = {encoded_stream(frames, quality_options("libx264", 18, speed)) for _ in range(6)}
    assert len(streams) == 1


@pytest.mark.parametrize(("capability", "capped"), [("AVX512", True), ("AVX512_BF16", True), ("AVX2", False),
                                                    ("DEFAULT", False)])  # fmt: skip
def test_x264_is_held_to_avx2_only_on_cpus_with_avx512(monkeypatch, capability: str, capped: bool):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    video_output.x264_avx512_capped.cache_clear()
    try:
        balanced, fast = (quality_options("libx264", 18, speed).get("x264-params", "") for speed in ENCODE_SPEEDS)
    finally:
        video_output.x264_avx512_capped.cache_clear()
    assert balanced.startswith(video_output.X264_BALANCED)
    assert ("asm=avx2" in balanced, "asm=avx2" in fast) == (capped, capped)
    assert "x264-params" not in quality_options("libx265", 22)
