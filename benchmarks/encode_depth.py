"""8 or 10 bits a sample in the output video: fidelity, size and encoder CPU on enhanced 1080p frames.

Usage:
    python benchmarks/encode_depth.py --data-root ../shared/data --frames 40 --rounds 2 \
        --out benchmarks/results/encode_depth/depth.json

The two clips of ``benchmarks/encode_options.py`` ("noisy pan": the load benchmark's dark panning face with noise
0.03, "real mosaic": 19 enhanced real low-light photos panning and moving), each frame as the default model makes it:
8-bit RGB, what every output depth receives. Each codec (H.264, HEVC, AV1) encodes each clip at its default CRF and
`balanced` speed (`lowface.io.video_output.quality_options`) as 4:2:0 in 8 and in 10 bits, the RGB frames converted
with BT.709 in limited range as the pipeline does; candidates take turns. Reported: the median CPU of the process a
frame (conversion and encoder, its threads included), megabits a second at 30 frames/s, and the PSNR of the decoded
frames (``lowface.io.video_colour.decoded_pixels``: RGB at full 16-bit scale) to the 8-bit RGB frames, over RGB and
over luma (BT.709 weights).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import av
import numpy as np
from common import provenance, write_results
from encode_options import SIZE, clip_arguments, cpu_times, enhanced_clips, process_cpu, table_head

from lowface.io.video_colour import decoded_pixels
from lowface.io.video_output import VIDEO_CODECS, quality_options

CODECS = ("h264", "hevc", "av1")
LUMA = np.array([0.2126, 0.7152, 0.0722])


def encode(frames: list[np.ndarray], codec: str, bits: int, path: Path) -> dict[str, float]:
    """Encode (H, W, 3) uint8 RGB ``frames`` with ``codec`` at its default CRF in 4:2:0 of ``bits`` bits into
    ``path``: CPU ms a frame, Mbit/s, PSNR (dB) of RGB and luma to the frames."""
    encoder, quality = VIDEO_CODECS[codec]
    pixel_format = "yuv420p10le" if bits > 8 else "yuv420p"
    with av.open(str(path), "w") as output:
        stream = output.add_stream(encoder, rate=30)
        stream.width, stream.height, stream.pix_fmt = *SIZE, pixel_format
        context = stream.codec_context
        context.colorspace, context.color_primaries, context.color_trc, context.color_range = 1, 1, 1, 1
        stream.options = quality_options(encoder, quality)
        start = process_cpu()
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format=pixel_format, dst_colorspace="itu709", dst_color_range="MPEG"
            )
            frame.pts = i
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
        cpu = process_cpu() - start
    squared_rgb, squared_luma = [], []
    with av.open(str(path)) as decoded:
        for frame, truth in zip(decoded.decode(video=0), frames, strict=True):
            error = decoded_pixels(frame).astype(np.float64) / 65535 - truth / 255.0
            squared_rgb.append(np.mean(error**2))
            squared_luma.append(np.mean((error @ LUMA) ** 2))
    megabits = path.stat().st_size * 8 / 1e6 / (len(frames) / 30)
    return {"cpu_ms": 1000 * cpu / len(frames), "mbit_s": round(megabits, 2),
            "psnr_rgb": round(float(-10 * np.log10(np.mean(squared_rgb))), 2),
            "psnr_luma": round(float(-10 * np.log10(np.mean(squared_luma))), 2)}  # fmt: skip


def main() -> None:
    args = clip_arguments(__doc__, 2, "benchmarks/results/encode_depth/depth.json")
    clips = enhanced_clips(args)
    candidates = [(codec, bits) for codec in CODECS for bits in (8, 10)]
    runs: dict[tuple[str, str, int], list[dict]] = {(clip, *c): [] for clip in clips for c in candidates}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            for clip, frames in clips.items():
                for codec, bits in candidates:
                    result = encode(frames, codec, bits, Path(scratch) / "clip.mkv")
                    runs[clip, codec, bits].append(result)
                    print(round_, clip, codec, bits, result, flush=True)
    rows = []
    for (clip, codec, bits), results in runs.items():
        first = results[0]
        rows.append({"clip": clip, "codec": codec, "bits": bits, "crf": VIDEO_CODECS[codec][1],
                     **cpu_times(results), "mbit_s": first["mbit_s"], "psnr_rgb": first["psnr_rgb"],
                     "psnr_luma": first["psnr_luma"]})  # fmt: skip
    record = {**provenance(), "frames": args.frames, "rounds": args.rounds, "rows": rows}
    title = f"Output depth on enhanced 1080p frames: {args.frames} frames, default CRF, {args.rounds} rounds alternated"
    lines = table_head(title, record, ["clip", "codec (CRF)", "bits", "CPU ms/frame (median)", "Mbit/s at 30 fps",
                                       "PSNR RGB / luma (dB)"])  # fmt: skip
    for row in rows:
        lines.append(f"| {row['clip']} | {row['codec']} ({row['crf']}) | {row['bits']} | {row['cpu_ms_median']} | "
                     f"{row['mbit_s']} | {row['psnr_rgb']} / {row['psnr_luma']} |")  # fmt: skip
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
