"""Light sources painted into real scenes: what teaches an enhancer (and measures) that a lamp must not darken its
surroundings.

SICE's training scenes are mostly daylight scenes shot dark; a street lamp, a lit window or a floodlit monument in a
dark sky is rare in them, and the shipped restoring network learned to spread a light source's brightness over its
receptive field into the illumination of the sky round it - the dark ring (halo) of issue 20. A light source is
added in linear light to both frames of a real pair: ``dark + L`` and ``reference + e L``, ``e`` the pair's exposure
ratio, so the reference shows what a longer exposure of the same lamp shows (its core clipped white, its glow
brighter) and everything else stays as it was.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lowface.data.synth import linear_to_srgb, srgb_to_linear

LIGHT_TINTS = np.asarray([[1.0, 1.0, 1.0], [1.0, 0.72, 0.4], [0.85, 0.93, 1.0], [1.0, 0.88, 0.7]], np.float32)


class Light(NamedTuple):
    """One painted light source: its ``core`` and ``glow`` (H, W, 3) linear radiance, ``distance`` (H, W) pixels
    from the core (0 inside)."""

    core: np.ndarray
    glow: np.ndarray
    distance: np.ndarray


def draw_light(shape: tuple[int, int], rng: np.random.Generator) -> Light:
    """A random light source in an (H, W) frame: a disk (a lamp), a vertical bar (a pole, a monument) or a rectangle
    (a lit window, a bus side); its core of linear radiance 0.5-4 in a lamp's tint (sodium, LED, warm or white), and
    an exponential glow of peak 0-0.4 falling off over 2-12 px."""
    height, width = shape
    cy, cx = rng.uniform(0, height), rng.uniform(0, width)
    rows, cols = np.ogrid[:height, :width]
    dy, dx = np.abs(rows - cy).astype(np.float32), np.abs(cols - cx).astype(np.float32)
    kind = rng.integers(3)
    if kind == 0:
        distance = np.maximum(np.hypot(dy, dx) - rng.uniform(2, 10), 0)
    else:
        half_h, half_w = (rng.uniform(8, 40), rng.uniform(1, 5)) if kind == 1 else rng.uniform(4, 25, 2)
        distance = np.hypot(np.maximum(dy - half_h, 0), np.maximum(dx - half_w, 0))
    tint = LIGHT_TINTS[rng.integers(len(LIGHT_TINTS))]
    core = rng.uniform(0.5, 4.0) * (distance == 0)[..., None] * tint
    glow = rng.uniform(0, 0.4) * (np.exp(-distance / rng.uniform(2, 12)) * (distance > 0))[..., None] * tint
    return Light(core.astype(np.float32), glow.astype(np.float32), distance.astype(np.float32))


def add_lights(
    dark: np.ndarray, reference: np.ndarray, rng: np.random.Generator, count: int = 2, night: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """A real pair (both (H, W, 3) float in [0, 1], sRGB) with 1 to ``count`` light sources added in linear light,
    re-encoded and clipped: the core as it is to the dark frame and ``e`` times brighter (clipped white) to the
    reference, the glow as drawn to the reference and ``1 / e`` of it to the dark frame (``e`` the ratio of the
    frames' mean linear values, in [1, 256]): the reference shows what a longer exposure shows, and the glow is never
    brighter there than an enhancer could tell from the dark frame. The dark frame's own light is first scaled by a
    factor drawn log-uniformly in [``night``, 1] (a shorter exposure: the near-black sky of a night scene, where a
    lamp's ring is deepest). Float32, new arrays."""
    dark_linear = srgb_to_linear(dark) * float(np.exp(rng.uniform(np.log(night), 0.0)))
    ratio = float(np.clip(srgb_to_linear(reference).mean() / max(float(dark_linear.mean()), 1e-4), 1.0, 256.0))
    lights = [draw_light(dark.shape[:2], rng) for _ in range(int(rng.integers(1, count + 1)))]
    core, glow = sum(light.core for light in lights), sum(light.glow for light in lights)
    lit_dark = linear_to_srgb(dark_linear + core + glow / ratio)
    lit_reference = linear_to_srgb(srgb_to_linear(reference) + ratio * core + glow)
    return lit_dark.astype(np.float32), lit_reference.astype(np.float32)
