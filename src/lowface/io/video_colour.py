"""Colour in video files: a decoded frame's RGB pixels (:func:`decoded_pixels`: its YUV matrix, 16 bits, accurate
rounding), an RGB frame in the output's YUV (:func:`encodable`), what the output is tagged with (:func:`tag_stream`),
and HDR sources (PQ, HLG) brought to SDR BT.709 before the network sees them (:func:`hdr_to_sdr`).

A player converts YUV to RGB with the matrix a stream's tags name and guesses one where there is none: BT.709 for HD,
BT.601 for SD (mpv's rule, which browsers and VLC follow in effect). FFmpeg's converter, left to itself, uses BT.601
for every untagged frame and writes untagged output: a phone's BT.709 clip then came back with its reds 14 levels
brighter (YUV 100/90/200 -> 109/82/202). So: frames are decoded with the matrix their tags name (else the players'
guess), and the output is encoded with that matrix and tagged with it, its primaries and its transfer, in limited
range, so that a player shows the colours the network computed.

HDR sources (PQ / SMPTE 2084: HDR10, most HDR cameras' HEVC; HLG / ARIB STD-B67: phones' HDR video, the base layer
of an iPhone's Dolby Vision 8.4) are converted to SDR BT.709 for the network, which was trained on SDR pictures, and
written as SDR: each pixel's display light (PQ: absolute; HLG: its BT.2100 reference display's, 1,000 cd/m2, system
gamma 1.2), SDR white at 203 cd/m2 (BT.2408's HDR reference white: HLG's 75 % signal), highlights above 0.75 of SDR
white rolled off into white on the brightest channel (hue kept), BT.2020 (or P3) primaries to BT.709 in linear light
(out-of-gamut colours clipped), then BT.1886's 2.4 power. Night footage lies almost all below SDR white, where the
mapping is exact. HDR metadata (mastering display, MaxCLL) and Dolby Vision's enhancement layers are not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import cv2
import numpy as np
import torch
from av.video.reformatter import Interpolation

# FFmpeg's colour tags (AVColorSpace, AVColorPrimaries, AVColorTransferCharacteristic), as PyAV reports them
SPACE_RGB, SPACE_BT709, SPACE_FCC, SPACE_BT470BG, SPACE_SMPTE170M, SPACE_SMPTE240M = 0, 1, 4, 5, 6, 7
SPACE_BT2020_NCL, SPACE_BT2020_CL = 9, 10
PRIMARIES_BT709, PRIMARIES_SMPTE170M, PRIMARIES_BT2020 = 1, 6, 9
TRANSFER_BT709, TRANSFER_PQ, TRANSFER_HLG = 1, 16, 18
UNSPECIFIED = 2

# the YUV matrix of each AVColorSpace, by its name in FFmpeg's converter (swscale)
SWS_MATRIX = {SPACE_BT709: "itu709", SPACE_FCC: "fcc", SPACE_BT470BG: "itu601", SPACE_SMPTE170M: "itu601",
              SPACE_SMPTE240M: "smpte240m", SPACE_BT2020_NCL: "bt2020", SPACE_BT2020_CL: "bt2020"}  # fmt: skip
SPACE_PRIMARIES = {SPACE_BT2020_NCL: PRIMARIES_BT2020, SPACE_BT2020_CL: PRIMARIES_BT2020,
                   SPACE_BT470BG: PRIMARIES_SMPTE170M, SPACE_SMPTE170M: PRIMARIES_SMPTE170M}  # fmt: skip
HDR_TRANSFERS = {TRANSFER_PQ: "PQ", TRANSFER_HLG: "HLG"}

SDR_WHITE_NITS = 203.0  # BT.2408: HDR reference white (HLG 75 %, PQ 58 %) is SDR's 100 %
HLG_DISPLAY_NITS = 1000.0  # BT.2100's reference display for HLG's OOTF
ROLL_OFF_KNEE = 0.75  # SDR linear light from which highlights are compressed into white
PRIMARIES_P3_D65 = 12
# linear RGB in a source's primaries -> BT.709's, and the luma weights there (HLG's OOTF); other primaries as BT.709
TO_BT709 = {
    PRIMARIES_BT2020: ([[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]],
                       [0.2627, 0.6780, 0.0593]),
    PRIMARIES_P3_D65: ([[1.2249, -0.2247, 0.0], [-0.0420, 1.0419, 0.0], [-0.0197, -0.0786, 1.0979]],
                       [0.2290, 0.6917, 0.0793]),
}  # fmt: skip
BT709_LUMA = [0.2126, 0.7152, 0.0722]


@dataclass(frozen=True)
class VideoColour:
    """How a stream's pixels are coded: ``space`` (the YUV matrix, an AVColorSpace), ``primaries`` and ``transfer``
    (AVColorPrimaries, AVColorTransferCharacteristic), unspecified ones resolved as players resolve them."""

    space: int
    primaries: int
    transfer: int

    @property
    def hdr(self) -> str | None:
        """ "PQ" or "HLG" for an HDR transfer, else None."""
        return HDR_TRANSFERS.get(self.transfer)

    @property
    def matrix(self) -> str | None:
        """The YUV <-> RGB matrix's swscale name; None for RGB streams (no matrix)."""
        return None if self.space == SPACE_RGB else SWS_MATRIX[self.space]


def video_colour(space: int, primaries: int, transfer: int, width: int, height: int) -> VideoColour:
    """A stream's or frame's colour tags -> its :class:`VideoColour`. An unspecified (or unsupported: YCgCo, ICtCp,
    ...) matrix is BT.709 for HD (width >= 1280 or height > 576), else BT.601; unspecified primaries follow the
    matrix (BT.2020 with BT.2020, SMPTE 170M with BT.601, else BT.709); an unspecified transfer is BT.709's."""
    space, primaries, transfer = int(space), int(primaries), int(transfer)
    if space != SPACE_RGB and space not in SWS_MATRIX:
        space = SPACE_BT709 if width >= 1280 or height > 576 else SPACE_SMPTE170M
    if primaries == UNSPECIFIED:
        primaries = SPACE_PRIMARIES.get(space, PRIMARIES_BT709)
    if transfer == UNSPECIFIED:
        transfer = TRANSFER_BT709
    return VideoColour(space, primaries, transfer)


def frame_colour(frame) -> VideoColour:
    """A decoded av.VideoFrame's :class:`VideoColour`, from its own tags and size."""
    return video_colour(frame.colorspace, frame.color_primaries, frame.color_trc, frame.width, frame.height)


def output_colour(source: VideoColour) -> VideoColour:
    """What the output of a source coded as ``source`` is coded as: the same matrix, primaries and transfer (a
    source's RGB frames: BT.709), SDR BT.709 for an HDR source (:func:`hdr_to_sdr` made its pixels SDR)."""
    if source.hdr is not None or source.space == SPACE_RGB:
        return VideoColour(SPACE_BT709, PRIMARIES_BT709, TRANSFER_BT709)
    return source


def tag_stream(codec_context, colour: VideoColour) -> None:
    """Write ``colour`` and limited range into an output stream's codec context (the encoders and muxers store it:
    H.264 / HEVC VUI, VP9 and AV1 headers, MP4 'colr', Matroska Colour)."""
    codec_context.colorspace = colour.space
    codec_context.color_primaries = colour.primaries
    codec_context.color_trc = colour.transfer
    codec_context.color_range = 1  # MPEG (limited), what yuv420p output holds


def _signal_to_linear(transfer: int) -> np.ndarray:
    """(65536,) float32: a 16-bit HDR signal value -> its linear light, display cd/m2 for PQ, scene light in [0, 1]
    for HLG (BT.2100's inverse OETF)."""
    signal = np.arange(65536, dtype=np.float64) / 65535.0
    if transfer == TRANSFER_PQ:
        m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
        power = signal ** (1 / m2)
        linear = 10000.0 * (np.maximum(power - c1, 0.0) / (c2 - c3 * power)) ** (1 / m1)
    else:
        a, b, c = 0.17883277, 0.28466892, 0.55991073
        linear = np.where(signal <= 0.5, signal**2 / 3, (np.exp((signal - c) / a) + b) / 12)
    return linear.astype(np.float32)


ACCURATE = Interpolation.BILINEAR | Interpolation.ACCURATE_RND  # swscale's rounded YUV -> RGB
# swscale's own threads for one conversion: none. The video pipeline converts in its reader and writer threads while
# the network keeps every core busy, where slice threads only add hand-overs (1080p, 2026-12-05: decoded frame -> RGB
# 8.0 -> 7.3 ms of CPU, RGB -> YUV 6.5 -> 5.4; the same pixels).
CONVERSION_THREADS = 1
_LINEAR_TABLES: dict[int, np.ndarray] = {}


def hdr_to_sdr(pixels: np.ndarray, colour: VideoColour) -> np.ndarray:
    """(H, W, 3) uint16 R'G'B' of a PQ or HLG source (decoded with its own matrix) -> (H, W, 3) uint16 R'G'B' SDR
    BT.709, 2.4-power coded (see the module docstring)."""
    transfer = colour.transfer
    if transfer not in HDR_TRANSFERS:
        raise ValueError(f"transfer {transfer} is not HDR (PQ is {TRANSFER_PQ}, HLG {TRANSFER_HLG})")
    to_bt709, luma = TO_BT709.get(colour.primaries, (None, BT709_LUMA))
    table = _LINEAR_TABLES.get(transfer)
    if table is None:
        table = _LINEAR_TABLES[transfer] = _signal_to_linear(transfer)
    light = torch.from_numpy(table[pixels])  # (H, W, 3) float32
    if transfer == TRANSFER_HLG:  # scene light -> the reference display's: F = Lw Ys^(gamma - 1) E, gamma 1.2
        scene_luma = (light @ torch.tensor(luma)).clamp_min_(1e-6)[..., None]
        light.mul_(scene_luma.pow_(0.2)).mul_(HLG_DISPLAY_NITS)
    light.div_(SDR_WHITE_NITS)
    brightest = light.amax(-1, keepdim=True).clamp_min_(1e-9)
    if bool((brightest > ROLL_OFF_KNEE).any()):  # (a night scene often has no highlight at all)
        over = ((brightest - ROLL_OFF_KNEE) / (1 - ROLL_OFF_KNEE)).clamp_min_(0.0)
        rolled = ROLL_OFF_KNEE + (1 - ROLL_OFF_KNEE) * over / (1 + over)  # slope 1 at the knee, white at infinity
        light.mul_(torch.where(brightest > ROLL_OFF_KNEE, rolled / brightest, 1.0))
    if to_bt709 is not None:
        light = light @ torch.tensor(to_bt709).T
    sdr = light.clamp_(0.0, 1.0).pow_(1 / 2.4)
    return sdr.mul_(65535.0).round_().to(torch.uint16).numpy()


def encodable(frame: av.VideoFrame, stream) -> av.VideoFrame:
    """An RGB frame in the output stream's pixel format, through the YUV matrix its tags name (:func:`tag_stream`),
    limited range, and at the stream's size: a source whose frame size changes midway (a broadcast capture, a
    stream recording) is scaled to its first frames' size, as FFmpeg's own tool does. Rounded accurately (FFmpeg's
    default rounding tinted 4:2:0 output: red and blue 0.1 of a level low, green 0.06 high; 3.7 ms more a 1080p
    frame). RGB streams (lossless segments) take its RGB as it is."""
    context = stream.codec_context
    same_size = (frame.width, frame.height) == (stream.width, stream.height)
    resize = {} if same_size else {"width": stream.width, "height": stream.height}
    if stream.pix_fmt in ("rgb24", "gbrp"):
        return frame.reformat(**resize, interpolation="BICUBIC", threads=CONVERSION_THREADS) if resize else frame
    scaling = Interpolation.BILINEAR if same_size else Interpolation.BICUBIC  # (bilinear: the chroma's halving)
    return frame.reformat(format=stream.pix_fmt, dst_colorspace=SWS_MATRIX[int(context.colorspace)],
                          dst_color_range="MPEG", dst_color_trc=int(context.color_trc),
                          dst_color_primaries=int(context.color_primaries), threads=CONVERSION_THREADS,
                          **resize, interpolation=scaling | Interpolation.ACCURATE_RND)  # fmt: skip


def decoded_pixels(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame's (H, W, 3) RGB pixels. YUV frames come as uint16 (full 16-bit scale), converted with the
    matrix their tags name (untagged: BT.709 for HD, BT.601 for SD, as players do) in FFmpeg's accurate rounding:
    its 8-bit RGB output truncates (every pixel half a level dark, Y 17 -> 0 with accurate rounding), the 16-bit one
    (brought to full scale, :func:`to_full_scale`) is within 0.02 of an 8-bit level, and it keeps the gradations of
    10-bit sources (banding in dark gradients otherwise). RGB frames come at their own depth: uint8 for 8 bits,
    uint16 for more. HDR (PQ, HLG) becomes SDR BT.709 (:func:`hdr_to_sdr`)."""
    colour = frame_colour(frame)
    if frame.format.is_rgb:
        deep = colour.hdr is not None or max(component.bits for component in frame.format.components) > 8
        pixels = frame.to_ndarray(format="rgb48le" if deep else "rgb24", threads=CONVERSION_THREADS)
    else:
        pixels = frame.to_ndarray(
            format="rgb48le", src_colorspace=colour.matrix, interpolation=ACCURATE, threads=CONVERSION_THREADS
        )
        pixels = to_full_scale(pixels)
    return pixels if colour.hdr is None else hdr_to_sdr(pixels, colour)


# swscale's YUV -> 16-bit RGB scales 8-bit levels by 256, not 257: white comes out as 65280 (65283 with accurate
# rounding), limited and full range, 8- and 10-bit sources alike (FFmpeg in PyAV 18.1; its float RGB too: 0.9962).
SWSCALE_WHITE = 65280


def to_full_scale(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint16 RGB from swscale's YUV conversion -> full 16-bit scale (white 65535), in place: x 257 / 256,
    rounded and saturated in one OpenCV pass (1.6 ms at 1080p; NumPy's clip, shift and add took 6-20). Without it
    every decoded pixel was 0.4 % dark, and a video that the gate left alone came back with a third of its luma one
    level of 255 darker (every level above mid-grey)."""
    return cv2.addWeighted(pixels, 65535 / SWSCALE_WHITE, pixels, 0.0, 0.0, dst=pixels)
