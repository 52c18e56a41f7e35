"""Temporal noise reduction on moving night footage: `--temporal-denoise` off, averaging in place (the filter until
2026-12-06) and motion-compensated, on clips whose truth is known.

Each clip is a camera moving over a real scene: a window of a SICE reference frame (a well-exposed real capture,
512x512) that pans, rotates and zooms a little every frame, with a face (an LFW training-list photo, an ellipse
about 80 px high) walking across it on its own path, so that the filter meets camera motion and a moving person
at once. Every frame is then darkened with fresh noise by the physical low-light model (`darken_physical`: shot
noise and read noise at ``--exposure`` of a normal exposure, 8 bits) and filtered in order. Kinds of motion:
``still`` (a camera on a tripod, the face still walking), ``pan`` (1-3 px a frame, as 4-12 px at 1080p) and
``shake`` (a hand-held camera: the pan plus a jitter of 1 px and 0.2 degrees a frame).

Figures (frames 8 on, after the filter has settled): PSNR of the filtered dark frame against the noise-free dark
frame, both brightened by the same gain to a mean of 0.4 (what the enhancer will amplify), over the picture and
over the face; and flicker - the mean absolute change of the error from one frame to the next along the true
motion (the shimmer a viewer sees), in the same brightened units. With ``--enhance MODEL`` each filtered frame also
goes through the enhancer as `lowface enhance` runs a video (:class:`lowface.inference.batch.FrameEnhancer`), and
its brightness-matched PSNR against the clean frame and its flicker are reported too.

Usage:
    python benchmarks/temporal_motion.py --data-root ../shared/data --split val --out runs/temporal/val.json
    python benchmarks/temporal_motion.py --data-root ../shared/data --split test --enhance lowface-auto \
        --out benchmarks/results/temporal_motion/test.json
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import provenance, write_results

from lowface.data.lfw import lfw_train_images
from lowface.data.sice import load_scenes, sice_root
from lowface.data.synth import darken_physical, linear_to_srgb, quantize8, srgb_to_linear
from lowface.inference.temporal import TemporalDenoiser
from lowface.io import read_image

WINDOW = (288, 384)  # (height, width) of the clip, inside the 512x512 scene
FACE_HEIGHT = 80
WARMUP = 8
BRIGHT_MEAN = 0.4
METHODS = ("off", "in-place", "motion")


def camera_path(kind: str, frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """(2, 3) affine maps, one a frame, from the scene (512x512) to the clip's window: the window's centre drifts
    over the scene (``pan``, ``shake``) and turns and zooms a little; ``shake`` adds a hand's jitter."""
    centre = np.array([256.0, 256.0])
    velocity = (
        np.zeros(2)
        if kind == "still"
        else rng.uniform(1.0, 3.0) * np.array([math.cos(angle := rng.uniform(0, 2 * math.pi)), math.sin(angle)])
    )
    turn = 0.0 if kind == "still" else rng.uniform(-0.1, 0.1)
    zoom = 1.0 if kind == "still" else rng.uniform(0.998, 1.002)
    height, width = WINDOW
    maps, angle_deg, scale = [], 0.0, 1.0
    for _ in range(frames):
        jitter = rng.normal(0.0, 1.0, 2) if kind == "shake" else np.zeros(2)
        shake_turn = rng.normal(0.0, 0.2) if kind == "shake" else 0.0
        rotation = cv2.getRotationMatrix2D((float(centre[0] + jitter[0]), float(centre[1] + jitter[1])),
                                           angle_deg + shake_turn, scale)  # fmt: skip
        rotation[:, 2] += np.array([width / 2, height / 2]) - (centre + jitter)  # the centre to the window's
        maps.append(rotation)
        centre, angle_deg, scale = centre + velocity, angle_deg + turn, scale * zoom
        bounce = (centre < 200) | (centre > 312)  # stay well inside the scene
        velocity[bounce] *= -1
    return maps


def face_sprite(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """An LFW photo's face as an (h, w, 3) sprite and its soft elliptic (h, w) alpha."""
    face = read_image(path).rgb[60:190, 70:180]  # the aligned face in a 250x250 LFW photo
    height = FACE_HEIGHT
    width = round(face.shape[1] * height / face.shape[0])
    sprite = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)
    y, x = np.mgrid[0:height, 0:width]
    r = ((x - width / 2) / (width / 2)) ** 2 + ((y - height / 2) / (height / 2)) ** 2
    return sprite, np.clip((1.0 - r) * 4, 0.0, 1.0).astype(np.float32)


Clip = tuple[list[np.ndarray], list[np.ndarray], list[tuple[int, int]]]


def render_clip(scene: np.ndarray, sprite: tuple[np.ndarray, np.ndarray], kind: str, frames: int,
                rng: np.random.Generator) -> Clip:  # fmt: skip
    """Clean (H, W, 3) frames in [0, 1], the affine map of each and where the face's top-left corner is."""
    height, width = WINDOW
    pixels, alpha = sprite
    position = np.array([rng.uniform(0, width - pixels.shape[1]), rng.uniform(0, height - pixels.shape[0])])
    step = rng.uniform(1.5, 3.0) * np.array([1.0 if position[0] < width / 2 else -1.0, rng.uniform(-0.5, 0.5)])
    clean, maps, corners = [], camera_path(kind, frames, rng), []
    for affine in maps:
        frame = cv2.warpAffine(scene, affine, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        left, top = (round(float(v)) for v in position)
        box = frame[top : top + pixels.shape[0], left : left + pixels.shape[1]]
        box[:] = box * (1 - alpha[..., None]) + pixels * alpha[..., None]
        clean.append(frame.astype(np.float32))
        corners.append((top, left))
        position = np.clip(position + step, 0, [width - pixels.shape[1], height - pixels.shape[0]])
        step[(position <= 0) | (position >= [width - pixels.shape[1], height - pixels.shape[0]])] *= -1
    return clean, maps, corners


def relative_warp(maps: list[np.ndarray], index: int) -> np.ndarray:
    """The (2, 3) map taking frame ``index - 1``'s pixels to frame ``index``'s (camera motion)."""
    previous = np.vstack([maps[index - 1], [0, 0, 1]])
    current = np.vstack([maps[index], [0, 0, 1]])
    return (current @ np.linalg.inv(previous))[:2]


def figures(outputs: list[np.ndarray], truths: list[np.ndarray], maps: list[np.ndarray], corners: list[tuple[int, int]],
            alpha: np.ndarray, gain: float, matched: bool = False) -> dict[str, float]:  # fmt: skip
    """PSNR over the picture and the face (frames WARMUP on) and flicker, ``outputs`` and ``truths`` brightened by
    ``gain`` (or each output matched to its truth's mean brightness, ``matched``). The face's PSNR is over the face
    itself: its squared error weighted by the sprite's (h, w) ``alpha`` at its top-left corner; flicker follows the
    camera's motion only, so the walking face's own motion counts in it, alike for every method."""
    height, width = WINDOW
    psnr, face_psnr, flicker = [], [], []
    errors = []
    for output, truth, (top, left) in zip(outputs, truths, corners, strict=True):
        scaled = output * (truth.mean() / max(output.mean(), 1e-6)) if matched else output * gain
        reference = truth if matched else truth * gain
        error = np.ascontiguousarray(np.clip(scaled, 0, 1) - np.clip(reference, 0, 1))  # (OpenCV reads it)
        errors.append(error)
        psnr.append(-10 * math.log10(max(float((error**2).mean()), 1e-10)))
        face = error[top : top + alpha.shape[0], left : left + alpha.shape[1]]
        face_mse = float((face**2 * alpha[..., None]).sum()) / (3 * float(alpha.sum()))
        face_psnr.append(-10 * math.log10(max(face_mse, 1e-10)))
    for index in range(WARMUP, len(outputs)):
        affine = relative_warp(maps, index)
        moved = cv2.warpAffine(errors[index - 1], affine, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(np.nan,) * 3)  # fmt: skip
        valid = ~np.isnan(moved).any(-1)
        valid[:8], valid[-8:], valid[:, :8], valid[:, -8:] = False, False, False, False
        flicker.append(float(np.abs(errors[index] - moved)[valid].mean()))
    return {
        "psnr": float(np.mean(psnr[WARMUP:])),
        "face_psnr": float(np.mean(face_psnr[WARMUP:])),
        "flicker": float(np.mean(flicker)),
    }


def filtered(frames: list[np.ndarray], method: str, strength: float) -> tuple[list[np.ndarray], float]:
    """The frames through the temporal filter (``off``: as they are) and its seconds a frame."""
    if method == "off":
        return frames, 0.0
    denoiser = TemporalDenoiser(strength, motion=method == "motion")
    out, started = [], time.perf_counter()
    for frame in frames:
        tensor = torch.from_numpy(frame).permute(2, 0, 1)[None].contiguous()
        out.append(denoiser(tensor)[0].permute(1, 2, 0).numpy())
    return out, (time.perf_counter() - started) / len(frames)


def seconds_at_1080p(scene: np.ndarray, frames: int = 16) -> dict[str, float]:
    """The filter's seconds a 1920x1080 frame (each method but ``off``): ``scene`` upscaled 4x, a 1080p window
    panning 8 px a frame over it, darkened (x0.05 with physical noise)."""
    world = cv2.resize(scene, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    clip = [darken_physical(np.ascontiguousarray(world[400:1480, 8 * t : 8 * t + 1920]), 0.05, rng).astype(np.float32)
            for t in range(frames)]  # fmt: skip
    timings = {}
    for method in ("in-place", "motion"):
        denoiser = TemporalDenoiser(8.0, motion=method == "motion")
        tensors = [torch.from_numpy(frame).permute(2, 0, 1)[None].contiguous() for frame in clip]
        denoiser(tensors[0])
        started = time.perf_counter()
        for tensor in tensors[1:]:
            denoiser(tensor)
        timings[method] = (time.perf_counter() - started) / (frames - 1)
    return timings


def _cell(key: str, value: float) -> str:
    return f"{value:.4f}" if "flicker" in key or "seconds" in key else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--clips", type=int, default=12, help="scenes of the split, one clip each per kind")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--kinds", default="still,pan,shake")
    parser.add_argument("--exposure", type=float, nargs="+", default=[0.03, 0.1])
    parser.add_argument("--strength", type=float, default=8.0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--enhance", default=None, help="also score the frames through this model (e.g. lowface-auto)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    scenes = load_scenes(args.split)[: args.clips]
    root = sice_root(args.data_root)
    faces = lfw_train_images(args.data_root)
    methods, kinds = args.methods.split(","), args.kinds.split(",")
    enhancer = None
    if args.enhance:
        from lowface.inference import Enhancer
        from lowface.inference.batch import FrameEnhancer

        enhancer = Enhancer.from_pretrained(args.enhance)
    rows: dict[tuple[str, float, str], list[dict[str, float]]] = {}
    for number, scene in enumerate(scenes):
        reference = read_image(root / f"{scene.reference}.jpg").rgb.astype(np.float32)
        sprite = face_sprite(faces[(number * 7919) % len(faces)])
        for kind in kinds:
            rng = np.random.default_rng([args.seed, number, kinds.index(kind)])
            clean, maps, corners = render_clip(reference, sprite, kind, args.frames, rng)
            for exposure in args.exposure:
                noise_rng = np.random.default_rng([args.seed, number, kinds.index(kind), round(exposure * 1e4)])
                dark = [darken_physical(frame, exposure, noise_rng).astype(np.float32) for frame in clean]
                truth = [quantize8(linear_to_srgb(srgb_to_linear(frame) * exposure)).astype(np.float32)
                         for frame in clean]  # fmt: skip
                gain = BRIGHT_MEAN / max(float(np.mean(truth)), 1e-4)
                for method in methods:
                    out, seconds = filtered(dark, method, args.strength)
                    row = {**figures(out, truth, maps, corners, sprite[1], gain), "seconds": seconds}
                    if enhancer is not None:
                        stream = FrameEnhancer(enhancer)
                        with torch.inference_mode():
                            bright = [stream(torch.from_numpy(f).permute(2, 0, 1)[None].contiguous())[0]
                                      .permute(1, 2, 0).numpy() for f in out]  # fmt: skip
                        enhanced = figures(bright, clean, maps, corners, sprite[1], 1.0, matched=True)
                        row.update({f"enhanced_{k}": v for k, v in enhanced.items()})
                    rows.setdefault((kind, exposure, method), []).append(row)
        print(f"scene {number + 1}/{len(scenes)} done", flush=True)

    at_1080p = seconds_at_1080p(read_image(root / f"{scenes[0].reference}.jpg").rgb.astype(np.float32))
    made = provenance(args.threads)
    summary = {
        f"{kind} x{exposure} {method}": {k: float(np.mean([r[k] for r in found])) for k in found[0]}
        for (kind, exposure, method), found in rows.items()
    }
    keys = list(next(iter(summary.values())))
    lines = [
        f"Temporal noise reduction on {len(scenes)} synthetic moving clips a kind (SICE {args.split} scenes, "
        f"{WINDOW[1]}x{WINDOW[0]}, {args.frames} frames, a walking LFW face; physical noise; strength "
        f"{args.strength}); PSNR / flicker of the dark frames brightened to a mean of {BRIGHT_MEAN}"
        + (f"; enhanced by {args.enhance}, brightness-matched to the clean frame" if args.enhance else "")
        + f". Command: `{made['command']}`, {made['date']}, {made['machine']}.",
        "",
        "The filter's time a 1920x1080 frame (a panning clip, the scene upscaled): "
        + ", ".join(f"{method} {seconds * 1000:.0f} ms" for method, seconds in at_1080p.items())
        + f" ({args.threads} thread(s)).",
        "",
        "| clip | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
        *(f"| {name} | " + " | ".join(_cell(key, row[key]) for key in keys) + " |" for name, row in summary.items()),
    ]
    write_results(args.out, {**made, "args": vars(args) | {"out": str(args.out)},
                             "summary": summary, "seconds_1080p": at_1080p}, lines)  # fmt: skip
    print("\n".join(lines))


if __name__ == "__main__":
    main()
