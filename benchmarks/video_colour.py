"""Video colour fidelity: does a picture come out of `lowface enhance` the same as a video frame as it does as a photo?

Usage:
    python benchmarks/video_colour.py --data-root ../shared/data --out benchmarks/results/video_colour/fidelity.json
    (--source-path OTHER_CHECKOUT/src measures another version of lowface, e.g. one before a change)

The first photo of each folder of ``lowlight_real/``, resized to 1280x720, becomes a 10-frame clip (CRF 12, 4:2:0)
in each of three codings a user's files have: H.264 BT.709-tagged (phones, cameras) and untagged (screen recorders,
older encoders), and a phone's HDR video (10-bit HEVC, HLG, BT.2020; the photo's values taken as SDR display light,
SDR white at HDR reference white). The photo and the clips go through the CLI with the same method (``identity``:
the file round trip alone; ``lowface-fast``: the network; both with the gate off, so no routing or gate smoothing
differs between a photo and a video); the output's sixth frame is decoded as a player shows it (the matrix its tags
name; untagged HD as BT.709) and compared with the photo's output: mean absolute difference and mean signed
difference per channel, in 8-bit levels. What remains with ``identity`` is the codec at CRF 12 and 4:2:0 chroma.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation
from common import provenance, write_results
from PIL import Image

SIZE = (1280, 720)
METHODS = ("identity", "lowface-fast")
CODINGS = ("bt709-tagged", "untagged", "hlg-bt2020")
BT709_TO_BT2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])


def photos(data_root: Path) -> list[Path]:
    folders = sorted(p for p in (data_root / "lowlight_real").iterdir() if p.is_dir())
    suffixes = {".jpg", ".jpeg", ".png", ".bmp"}
    return [sorted(f for f in folder.iterdir() if f.suffix.lower() in suffixes)[0] for folder in folders]


def hlg_pixels(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 SDR picture -> uint16 HLG BT.2020 signal that shows it: its values taken as BT.1886 display
    light with SDR white at 203 cd/m2 (BT.2408), the HLG reference display's OOTF (1,000 cd/m2, gamma 1.2) inverted,
    BT.2100's OETF."""
    nits = ((rgb / 255.0) ** 2.4) @ BT709_TO_BT2020.T * 203.0
    display_luma = np.clip(nits @ np.array([0.2627, 0.6780, 0.0593]), 1e-6, None)[..., None]
    scene = np.clip(nits / 1000.0 / (display_luma / 1000.0) ** (0.2 / 1.2), 0.0, 1.0)
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    signal = np.where(scene <= 1 / 12, np.sqrt(3 * scene), a * np.log(np.maximum(12 * scene - b, 1e-12)) + c)
    return np.round(signal * 65535).astype(np.uint16)


def write_clip(path: Path, rgb: np.ndarray, coding: str) -> None:
    """10 frames of ``rgb``: H.264 4:2:0 with the BT.709 matrix, limited range, tagged so or untagged; or (hlg-bt2020)
    a phone's HDR video: 10-bit HEVC 4:2:0, HLG, BT.2020, tagged."""
    hdr = coding == "hlg-bt2020"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265" if hdr else "libx264", rate=25)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p10le" if hdr else "yuv420p"
        stream.options = {"crf": "12", **({"x265-params": "log-level=error"} if hdr else {})}
        context = stream.codec_context
        if coding != "untagged":
            context.colorspace = context.color_primaries = 9 if hdr else 1
            context.color_trc, context.color_range = 18 if hdr else 1, 1
        source = av.VideoFrame.from_ndarray(*((hlg_pixels(rgb), "rgb48le") if hdr else (rgb, "rgb24")))
        frame = source.reformat(format=stream.pix_fmt, dst_colorspace="bt2020" if hdr else "itu709",
                                dst_color_range="MPEG")  # fmt: skip
        for index in range(10):
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def as_shown(path: Path) -> np.ndarray:
    """The sixth frame of a video as a player converts it, in 8-bit levels: the matrix its tags name, untagged HD as
    BT.709, rounded correctly (FFmpeg's 8-bit RGB output truncates: about a level dark; its 16-bit output with
    accurate rounding does not)."""
    with av.open(str(path)) as container:
        frame = list(container.decode(video=0))[5]
    matrix = {1: "itu709", 5: "itu601", 6: "itu601", 9: "bt2020"}.get(frame.colorspace, "itu709")
    accurate = Interpolation.BILINEAR | Interpolation.ACCURATE_RND
    return frame.to_ndarray(format="rgb48le", src_colorspace=matrix, interpolation=accurate) / 257.0


def enhance(source: Path, target: Path, method: str, env: dict) -> None:
    command = [str(Path(sys.executable).with_name("lowface")), "enhance", str(source), "-o", str(target), "-m",
               method, "--no-gate", "--overwrite", "-q"]  # fmt: skip
    subprocess.run(command, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--source-path", help="PYTHONPATH for the lowface to measure (default: the installed one)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    env = {**os.environ, **({"PYTHONPATH": args.source_path} if args.source_path else {})}
    rows = []
    with tempfile.TemporaryDirectory(prefix="lowface-colour-") as scratch:
        work = Path(scratch)
        for photo in photos(args.data_root):
            rgb = np.asarray(Image.open(photo).convert("RGB").resize(SIZE, Image.BICUBIC))
            name = f"{photo.parent.name}-{photo.stem}"
            still = work / f"{name}.png"
            Image.fromarray(rgb).save(still)
            for coding in CODINGS:
                write_clip(work / f"{name}-{coding}.mp4", rgb, coding)
            for method in METHODS:
                enhance(still, work / method / still.name, method, env)
                reference = np.asarray(Image.open(work / method / still.name).convert("RGB")).astype(np.float64)
                for coding in CODINGS:
                    clip = f"{name}-{coding}.mp4"
                    enhance(work / clip, work / method / clip, method, env)
                    difference = as_shown(work / method / clip) - reference
                    rows.append({"photo": str(photo.relative_to(args.data_root)), "method": method, "coding": coding,
                                 "mean_abs": float(np.abs(difference).mean()),
                                 "mean_signed_rgb": difference.reshape(-1, 3).mean(0).round(3).tolist()})  # fmt: skip
                    print(rows[-1], flush=True)
    summary = {}
    for method in METHODS:
        for coding in CODINGS:
            chosen = [r for r in rows if r["method"] == method and r["coding"] == coding]
            summary[f"{method} / {coding}"] = {
                "mean_abs": round(float(np.mean([r["mean_abs"] for r in chosen])), 2),
                "mean_signed_rgb": np.mean([r["mean_signed_rgb"] for r in chosen], 0).round(2).tolist(),
            }
    record = {**provenance(), "source_path": args.source_path, "summary": summary, "rows": rows}
    lines = ["# Video vs photo through `lowface enhance` (8-bit levels; lower is closer)", "",
             f"`{record['command']}` - {record['date']}, {record['machine']}", "",
             "| method / coding | mean abs. difference | mean signed difference R / G / B |",
             "|---|---|---|"]  # fmt: skip
    for key, value in summary.items():
        signed = " / ".join(f"{v:+.2f}" for v in value["mean_signed_rgb"])
        lines.append(f"| {key} | {value['mean_abs']:.2f} | {signed} |")
    write_results(args.out, record, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
