"""Sample media the tests make on the fly (a dark video clip with audio, a camera RAW file) and what they inspect
(a video's streams), a photo with a phone's XMP, plus the system browser the report and web-app tests drive."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, PngImagePlugin

from conftest import smooth_test_image
from lowface.io.heif import heif_support
from lowface.io.video_output import x264_options


def mux_frames(out, stream, frames) -> None:
    """Encode ``frames`` (av.VideoFrame or AudioFrame, in order) into ``stream`` of the container ``out``, then flush
    the encoder."""
    for frame in frames:
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def dark_frames(count: int, height: int = 48, width: int = 64) -> list:
    """``count`` dark smooth RGB frames (a different scene each), pts 0, 1, 2, ..."""
    frames = []
    for index in range(count):
        pixels = (smooth_test_image(height, width, seed=index) * 50).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(pixels, "rgb24")
        frame.pts = index
        frames.append(frame)
    return frames


def audio_frames(stream, seconds: float, hertz: float = 440.0) -> list:
    """A tone of ``seconds`` for the mono audio ``stream``, in chunks of its encoder's frame size (1024 if it has
    none), pts in samples."""
    rate, size = stream.codec_context.sample_rate, stream.codec_context.frame_size or 1024
    tone = np.sin(np.arange(int(rate * seconds)) * 2 * np.pi * hertz / rate).astype(np.float32)[None]
    chunks = []
    for start in range(0, tone.shape[1] - size + 1, size):
        chunk = av.AudioFrame.from_ndarray(tone[:, start : start + size], format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
        chunks.append(chunk)
    return chunks


def panning_frames(count: int, height: int = 48, width: int = 64, noise: float = 0.02) -> list:
    """``count`` dark noisy RGB frames of one scene seen by a camera panning 2 px a frame (footage as
    ``--temporal-denoise`` meets it), pts 0, 1, 2, ..."""
    rng = np.random.default_rng(0)
    scene = smooth_test_image(height, width + 2 * count, seed=3) * 0.2
    frames = []
    for index in range(count):
        view = scene[:, 2 * index : 2 * index + width] + rng.normal(0, noise, (height, width, 3))
        frame = av.VideoFrame.from_ndarray(np.round(np.clip(view, 0, 1) * 255).astype(np.uint8), "rgb24")
        frame.pts = index
        frames.append(frame)
    return frames


def noisy_panning_avi(path: Path, frames: int = 16) -> Path:
    """:func:`panning_frames` as an MJPEG AVI (64x48, 10 fps, OpenCV's writer): MJPEG keeps the noise that H.264
    smooths away at this size, so a temporal noise reduction shows in the output."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for frame in panning_frames(frames):
        writer.write(frame.to_ndarray(format="bgr24"))
    writer.release()
    return path


def make_clip(path: Path, frames: int = 12, audio: bool = True, rotation: int = 90, panning: bool = False,
              index_first: bool = False) -> Path:  # fmt: skip
    """A dark H.264 clip (64x48) with variable frame durations, an AAC tone and a display rotation; a different scene
    each frame, or with ``panning`` one noisy scene that the camera pans over (:func:`panning_frames`).
    ``index_first``: an MP4's index (moov) before its media data, as web downloads have it ("faststart")."""
    with av.open(str(path), "w", options={"movflags": "faststart"} if index_first else {}) as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = x264_options({})  # the same clip in every process (the tests compare runs on it)
        video.time_base = video.codec_context.time_base = Fraction(1, 1000)
        video.set_display_rotation(float(rotation))
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        pts = 0
        timed = panning_frames(frames) if panning else dark_frames(frames)
        for i, frame in enumerate(timed):
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            pts += 33 if i % 3 else 90  # variable frame rate
        mux_frames(out, video, timed)
        if sound is not None:
            mux_frames(out, sound, audio_frames(sound, 1.0))
    return path


def damaged_clip(path: Path, frames: int = 30, damaged: int = 15) -> Path:
    """:func:`make_clip` (panning) with the payload of its ``damaged``-th video packet overwritten by noise, as a bad
    sector or a dropped network packet leaves a recording: the container is intact, the decoder refuses that packet."""
    make_clip(path, frames=frames, panning=True)
    with av.open(str(path)) as container:
        packet = [p for p in container.demux(video=0) if p.size][damaged]
        assert not packet.is_keyframe
        position, size = packet.pos, packet.size
    data = bytearray(path.read_bytes())
    noise = np.random.default_rng(0).integers(0, 256, size - 4, dtype=np.uint8)  # after the NAL's 4-byte length
    data[position + 4 : position + size] = noise.tobytes()
    path.write_bytes(bytes(data))
    return path


def camera_mov(path: Path) -> Path:
    """A MOV as cameras write them: H.264, AAC and a timecode track (01:02:03:04)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.metadata["timecode"] = "01:02:03:04"  # the MOV muxer writes it as a tmcd track
        sound = out.add_stream("aac", rate=16000, layout="mono")
        mux_frames(out, video, dark_frames(5))
        mux_frames(out, sound, audio_frames(sound, 0.25))
    return path


def streams(path: Path) -> dict:
    """Per stream: codec name; video frame timestamps and mean level; audio packets' (pts, bytes)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = [(f.pts, f.to_ndarray(format="rgb24").mean(), f.rotation) for f in container.decode(video)]
    with av.open(str(path)) as container:
        audio = (
            [(p.pts, bytes(p)) for p in container.demux(audio=0) if p.dts is not None]
            if container.streams.audio
            else []
        )
        codecs = [s.codec_context.name if s.codec_context is not None else s.type for s in container.streams]
    return {"codecs": codecs, "pts": [f[0] for f in frames], "levels": [f[1] for f in frames],
            "rotation": {f[2] for f in frames}, "audio": audio}  # fmt: skip


def write_dng(path: Path, level: float = 0.15) -> Path:
    """A minimal CFA DNG (RGGB, 12-bit, linear, identity colour matrix) of a dark smooth scene."""
    import tifffile

    rgb = smooth_test_image(64, 96) * level
    mosaic = np.zeros((64, 96))
    mosaic[0::2, 0::2], mosaic[0::2, 1::2] = rgb[0::2, 0::2, 0], rgb[0::2, 1::2, 1]
    mosaic[1::2, 0::2], mosaic[1::2, 1::2] = rgb[1::2, 0::2, 1], rgb[1::2, 1::2, 2]
    identity = [v for x in (1, 0, 0, 0, 1, 0, 0, 0, 1) for v in (x * 10000, 10000)]
    tags = [(271, "s", 0, "lowface", False), (272, "s", 0, "test", False), (33421, "H", 2, (2, 2), False),
            (33422, "B", 4, (0, 1, 1, 2), False), (50706, "B", 4, (1, 4, 0, 0), False),
            (50708, "s", 0, "lowface test camera", False), (50717, "H", 1, 4095, False), (50714, "H", 1, 0, False),
            (50721, "2i", 9, identity, False), (50728, "2I", 3, [1, 1, 1, 1, 1, 1], False),
            (50778, "H", 1, 21, False)]  # fmt: skip
    tifffile.imwrite(path, (mosaic * 4095).astype(np.uint16), photometric=32803, extratags=tags, metadata=None)
    return path


def browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


NAMESPACES = ('xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
              'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" '
              'xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/" '
              'xmlns:Container="http://ns.google.com/photos/1.0/container/" '
              'xmlns:xmpGImg="http://ns.adobe.com/xap/1.0/g/img/"')  # fmt: skip
# what a phone's motion photo with a gain map says, with a photographer's keywords and rating
PHONE_XMP = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    f'<rdf:Description rdf:about="" {NAMESPACES} xmp:Rating="4" tiff:Orientation="6" GCamera:MotionPhoto="1" '
    'GCamera:MotionPhotoVersion="1" GCamera:MotionPhotoPresentationTimestampUs="968645" hdrgm:Version="1.0">'
    "<dc:subject><rdf:Bag><rdf:li>night</rdf:li><rdf:li>street</rdf:li></rdf:Bag></dc:subject>"
    '<xmp:Thumbnails><rdf:Alt><rdf:li rdf:parseType="Resource"><xmpGImg:image>/9j/4AAQ</xmpGImg:image></rdf:li>'
    "</rdf:Alt></xmp:Thumbnails>"
    '<Container:Directory><rdf:Seq><rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4" '
    'Item:Length="2048"/></rdf:li></rdf:Seq></Container:Directory>'
    '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
).encode()
FORMATS = {".jpg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".avif": "AVIF", ".heic": "HEIF"}


def photo_with_xmp(path: Path, xmp: bytes = PHONE_XMP) -> Path:
    """A 40x64 photo in ``path``'s format with ``xmp`` where that format keeps it."""
    heif_support()
    pil_format = FORMATS[path.suffix]
    options: dict = {"xmp": xmp}
    if pil_format == "PNG":
        options = {"pnginfo": PngImagePlugin.PngInfo()}
        options["pnginfo"].add_itxt("XML:com.adobe.xmp", xmp.decode())
    elif pil_format == "TIFF":  # (a TIFF's XMP is its tag 700)
        options = {"tiffinfo": {700: xmp}}
    Image.fromarray((smooth_test_image(40, 64) * 80).astype(np.uint8)).save(path, format=pil_format, **options)
    return path
