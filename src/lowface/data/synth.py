"""Low-light synthesis. Linear darkening with the paper's Algorithm 1 (set-mean brightness target).

Images are float RGB in [0, 1], (H, W, 3) NumPy arrays; outputs are quantised to 8 bits like a saved file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from lowface.data.packing import packed
from lowface.filters import LUMA as BT601_LUMA
from lowface.filters import mean_luma

LUMA = np.asarray(BT601_LUMA)


def darken_linear(image: np.ndarray, ratio: float, quantize: bool = True) -> np.ndarray:
    """S_low = S * ratio, optionally quantised to 8 bits. (H, W, 3) float in [0, 1] -> same."""
    out = np.clip(image * ratio, 0.0, 1.0)
    return np.round(out * 255.0) / 255.0 if quantize else out


@dataclass(frozen=True)
class LinearDarkeningPlan:
    """The outcome of Algorithm 1: one ratio per kept image, the final interval, and the set's mean luma."""

    kept: list[int]
    ratios: np.ndarray
    ratio_range: tuple[float, float]
    set_brightness: float


def plan_linear_darkening(
    images: Sequence[np.ndarray],
    ratio_range: tuple[float, float] = (0.35, 0.45),
    target_brightness: float | None = None,
    tolerance: float = 0.01,
    min_size: tuple[int, int] = (0, 0),
    seed: int = 0,
    max_rounds: int = 50,
) -> LinearDarkeningPlan:
    """Algorithm 1: drop images smaller than ``min_size`` (h, w); draw a ratio per image uniformly from
    ``ratio_range``; if the darkened set's mean luma is not within ``tolerance`` of ``target_brightness``,
    rescale the interval by target / achieved and redraw (same seed) until it is.
    """
    lo, hi = ratio_range
    if not 0 < lo <= hi:
        raise ValueError(f"ratio_range must satisfy 0 < min <= max, got {ratio_range}")
    kept = [i for i, im in enumerate(images) if im.shape[0] >= min_size[0] and im.shape[1] >= min_size[1]]
    if not kept:
        raise ValueError("no image passes the minimum size")
    for _ in range(max_rounds):
        ratios = np.random.default_rng(seed).uniform(lo, hi, len(kept))
        achieved = float(np.mean([mean_luma(darken_linear(images[i], r)) for i, r in zip(kept, ratios, strict=True)]))
        if target_brightness is None or abs(achieved - target_brightness) < tolerance:
            return LinearDarkeningPlan(kept, ratios, (lo, hi), achieved)
        scale = target_brightness / max(achieved, 1e-6)
        lo, hi = lo * scale, hi * scale
    raise ValueError(
        f"cannot reach mean brightness {target_brightness} +- {tolerance} (last interval {lo:.3f}..{hi:.3f})"
    )


# -- per-image degradations ------------------------------------------------------------------------------


def quantize8(image: np.ndarray) -> np.ndarray:
    """Round to the 8-bit grid (what saving a PNG does)."""
    return np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0


def darken_gamma_noise(image: np.ndarray, gamma: float, noise_std: float, rng: np.random.Generator) -> np.ndarray:
    """CelebA-Test-II style: S ** gamma plus zero-mean Gaussian noise of ``noise_std`` (on the [0, 1] scale),
    clipped and quantised to 8 bits. (H, W, 3) float in [0, 1] -> same."""
    dark = np.power(np.clip(image, 0.0, 1.0), gamma)
    return quantize8(dark + rng.normal(0.0, noise_std, dark.shape))


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 decoding, [0, 1] -> [0, 1]."""
    return np.where(image <= 0.04045, image / 12.92, ((image + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 encoding, [0, 1] -> [0, 1]."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def darken_physical(
    image: np.ndarray,
    exposure: float,
    rng: np.random.Generator,
    full_well: float = 4000.0,
    read_noise: float = 2.0,
    jpeg_quality: int | None = None,
) -> np.ndarray:
    """A low-light capture: the sRGB image is decoded to linear light, scaled by ``exposure`` (fraction of
    a normal exposure), converted to electrons (white at normal exposure = ``full_well`` e-), given Poisson
    shot noise and Gaussian read noise (``read_noise`` e- rms), re-encoded to sRGB, quantised to 8 bits and
    optionally JPEG-compressed. No gain is applied: the result is as dark as the capture.
    (H, W, 3) float in [0, 1] -> same."""
    electrons = srgb_to_linear(np.clip(image, 0.0, 1.0)) * exposure * full_well
    noisy = rng.poisson(electrons).astype(np.float64) + rng.normal(0.0, read_noise, electrons.shape)
    dark = quantize8(linear_to_srgb(noisy / full_well))
    if jpeg_quality is not None:
        dark = jpeg_roundtrip(dark, jpeg_quality)
    return dark


def darken_camera(
    image: np.ndarray,
    exposure: float,
    rng: np.random.Generator,
    full_well: float = 4000.0,
    read_noise: float = 2.0,
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0),
    jpeg_quality: int | None = 85,
) -> np.ndarray:
    """A low-light capture through a camera pipeline, so that the noise looks as it does in real photos: the
    sRGB image is decoded to linear light, tinted by the light's colour (``cast``: per-channel gains, e.g. the
    orange of sodium street lamps), scaled by ``exposure``, sampled through an RGGB Bayer mosaic with Poisson
    shot noise and Gaussian read noise per photosite, demosaiced (bilinear, OpenCV), re-encoded to sRGB, quantised
    and JPEG-compressed - the noise after it is colour-correlated and blotchy, as in camera output, not white.
    Odd sizes lose nothing: the mosaic is padded to even size and cropped back. (H, W, 3) float in [0, 1] -> same.
    """
    import cv2

    height, width = image.shape[:2]
    linear = srgb_to_linear(np.clip(image, 0.0, 1.0)) * np.asarray(cast) * exposure
    linear = np.pad(linear, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    mosaic = np.empty(linear.shape[:2])
    mosaic[0::2, 0::2] = linear[0::2, 0::2, 0]  # R
    mosaic[0::2, 1::2] = linear[0::2, 1::2, 1]  # G
    mosaic[1::2, 0::2] = linear[1::2, 0::2, 1]  # G
    mosaic[1::2, 1::2] = linear[1::2, 1::2, 2]  # B
    electrons = np.clip(mosaic, 0.0, None) * full_well
    noisy = rng.poisson(electrons) + rng.normal(0.0, read_noise, electrons.shape)
    raw = np.round(np.clip(noisy / full_well, 0.0, 1.0) * 65535).astype(np.uint16)
    rgb = cv2.cvtColor(raw, cv2.COLOR_BayerBG2RGB).astype(np.float64) / 65535  # OpenCV names RGGB "BayerBG"
    dark = quantize8(linear_to_srgb(rgb[:height, :width]))
    return jpeg_roundtrip(dark, jpeg_quality) if jpeg_quality is not None else dark


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (OpenCV, 4:2:0), float [0, 1] in and out."""
    import cv2

    pixels = cv2.cvtColor(np.round(image * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float64) / 255.0


# -- presets ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthesisPreset:
    """A named low-light synthesis. ``kind``: "linear" (Algorithm 1 over the whole set), "gamma_noise",
    "scale_noise" (x ratio + Gaussian noise), "physical", "camera" (physical noise through a camera pipeline), or
    "mixture" (one of ``components`` per image);
    ``params`` are the kind's settings, ranges as (low, high) drawn uniformly or ("log", low, high)
    log-uniformly per image."""

    name: str
    kind: str
    params: dict
    description: str


SYNTHESIS_PRESETS = {
    p.name: p
    for p in [
        SynthesisPreset("linear", "linear", {"ratio_range": (0.35, 0.45)},
                        "paper Algorithm 1, ratios U(0.35, 0.45) (LaPa-Face test set)"),
        SynthesisPreset("linear-dark", "linear", {"ratio_range": (0.10, 0.20)},
                        "Algorithm 1 with ratios U(0.10, 0.20): much darker"),
        SynthesisPreset("linear-wide", "linear", {"ratio_range": (0.10, 0.50)},
                        "Algorithm 1 with ratios U(0.10, 0.50), the unpaired training default (training)"),
        SynthesisPreset("gamma-noise", "gamma_noise", {"gamma": (2.15, 2.25), "noise_std": (0.26 / 255, 0.30 / 255)},
                        "paper CelebA-Test-II: gamma U(2.15, 2.25), Gaussian noise std 0.26-0.30 read on the "
                        "8-bit scale (as the official script applies it)"),
        SynthesisPreset("gamma-noise-strong", "gamma_noise", {"gamma": (2.15, 2.25), "noise_std": (0.02, 0.03)},
                        "gamma U(2.15, 2.25) with visible noise, std 0.02-0.03 on the [0, 1] scale"),
        SynthesisPreset("x0.15-noise0.02", "scale_noise", {"ratio": (0.15, 0.15), "noise_std": (0.02, 0.02)},
                        "x0.15 plus Gaussian noise 0.02 (the noisy-dark setting of the recognition study)"),
        *(
            SynthesisPreset(f"physical-{pct}", "physical", {"exposure": (pct / 100, pct / 100)},
                            f"physical model at {pct}% of a normal exposure, 4000 e- full well, 2 e- read noise")
            for pct in (1, 3, 10)
        ),
        SynthesisPreset("physical-range", "physical",
                        {"exposure": ("log", 0.005, 0.2), "read_noise": (1.0, 4.0)},
                        "physical model, exposure log-uniform in 0.5-20% of normal, read noise 1-4 e- (training)"),
        SynthesisPreset("scale-noise-range", "scale_noise", {"ratio": (0.08, 0.4), "noise_std": (0.005, 0.04)},
                        "x U(0.08, 0.4) + Gaussian noise std U(0.005, 0.04) (training)"),
        SynthesisPreset("scale-range", "scale_noise", {"ratio": (0.08, 0.5), "noise_std": (0.0, 0.006)},
                        "x U(0.08, 0.5) + Gaussian noise std U(0, 0.006): dark, nearly clean (training)"),
        SynthesisPreset("noisy-mix", "mixture", {"components": ("physical-range", "scale-noise-range")},
                        "half physical-range, half scale-noise-range, drawn per image (training)"),
        SynthesisPreset("camera-range", "camera",
                        {"exposure": ("log", 0.005, 0.3), "read_noise": (1.0, 6.0), "cast_red": (0.8, 1.3),
                         "cast_blue": (0.6, 1.1), "jpeg_quality": (60, 95)},
                        "camera pipeline: colour cast of the light, Bayer mosaic with shot and read noise, "
                        "demosaicing, sRGB, JPEG 60-95; exposure log-uniform 0.5-30 % (training)"),
        SynthesisPreset("real-mix", "mixture", {"components": ("camera-range", "physical-range", "scale-noise-range")},
                        "a third each of camera-range, physical-range and scale-noise-range, per image (training)"),
        SynthesisPreset("low-noise-mix", "mixture", {"components": ("scale-range", "gamma-noise", "camera-range")},
                        "a third each of scale-range, gamma-noise and camera-range, per image: what the router "
                        "sends past the denoiser, and camera colour casts (training)"),
    ]
}  # fmt: skip


def _draw(value, rng: np.random.Generator):
    """(low, high) -> uniform draw; ("log", low, high) -> log-uniform draw; anything else as is."""
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "log":
        return float(np.exp(rng.uniform(np.log(value[1]), np.log(value[2]))))
    if isinstance(value, tuple) and len(value) == 2:
        low, high = value
        return float(rng.uniform(low, high)) if high > low else float(low)
    return value


def degrade(image: np.ndarray, preset: str | SynthesisPreset, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """One image through a per-image preset (every kind but "linear", which is defined over a set).
    (H, W, 3) float in [0, 1] -> (dark image quantised to 8 bits, the parameters drawn)."""
    preset = SYNTHESIS_PRESETS[preset] if isinstance(preset, str) else preset
    if preset.kind == "mixture":
        components = preset.params["components"]
        chosen = components[int(rng.integers(len(components)))]
        dark, params = degrade(image, chosen, rng)
        return dark, {"component": chosen, **params}
    params = {k: _draw(v, rng) for k, v in preset.params.items()}
    if preset.kind == "gamma_noise":
        return darken_gamma_noise(image, params["gamma"], params["noise_std"], rng), params
    if preset.kind == "scale_noise":
        return quantize8(image * params["ratio"] + rng.normal(0.0, params["noise_std"], image.shape)), params
    if preset.kind == "physical":
        return darken_physical(image, rng=rng, **params), params
    if preset.kind == "camera":
        cast = (params["cast_red"], 1.0, params["cast_blue"])
        quality = round(params["jpeg_quality"])
        dark = darken_camera(image, params["exposure"], rng, read_noise=params["read_noise"], cast=cast,
                             jpeg_quality=quality)  # fmt: skip
        return dark, params
    raise ValueError(f"preset {preset.name!r} of kind {preset.kind!r} is not a per-image degradation")


def iter_synthesize(
    images: Sequence[np.ndarray], preset: str | SynthesisPreset, seed: int = 0
) -> Iterator[tuple[np.ndarray, dict]]:
    """:func:`synthesize` one image at a time: (dark image, parameters drawn) for each image in order, the same
    values, without holding the whole darkened set in memory (a linear preset still plans over the whole set)."""
    preset = SYNTHESIS_PRESETS[preset] if isinstance(preset, str) else preset
    if preset.kind == "linear":
        plan = plan_linear_darkening(images, preset.params["ratio_range"], seed=seed)
        for image, ratio in zip(images, plan.ratios, strict=True):
            yield darken_linear(image, ratio), {"ratio": float(ratio)}
        return
    for index, image in enumerate(images):
        yield degrade(image, preset, np.random.default_rng((seed, index)))


def synthesize(
    images: Sequence[np.ndarray], preset: str | SynthesisPreset, seed: int = 0
) -> tuple[list[np.ndarray], list[dict]]:
    """Darken a set of images with a named preset; the same (preset, seed, images) always gives the same
    output. Returns the dark images (quantised to 8 bits) and, per image, the parameters drawn."""
    results = list(iter_synthesize(images, preset, seed))
    return [dark for dark, _ in results], [params for _, params in results]


def synthesize_float32(images: Sequence[np.ndarray], preset: str | SynthesisPreset, seed: int = 0) -> list[np.ndarray]:
    """The dark images of :func:`synthesize` as float32 (H, W, 3), made one at a time, so that a large set never
    exists as float64 (7,701 LFW faces: 5.8 GB instead of 5.8 + 11.6 GB at the peak), packed in one block."""
    return packed((dark.astype(np.float32) for dark, _ in iter_synthesize(images, preset, seed)), len(images))
