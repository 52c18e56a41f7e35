"""Choose lowface-auto's blend bands (lowface.inference.routing): where the router is unsure, mix its two networks,
the tone and the detail each by its own share.

Each image of a set goes through both networks of ``lowface-auto`` (no gate, each output moved by the exposure target
as the routed model does); its mean PSNR and SSIM against the clean image or reference, raw and after matching the
mean brightness, are measured for the mixes fast + t tone(restore - fast) + d detail(restore - fast)
(:func:`tone_and_detail`) at t, d = 0, 0.2, .., 1 and interpolated bilinearly for any pair of shares. A band (low, high)
gives each image the share clip((p - low) / (high - low), 0, 1) of its router probability p; a candidate is a band for
the tone and one for the detail (the same band twice: the one-share mix fast + t (restore - fast)); the hard choice
(p > 0.5) is the reference every candidate is compared with.

Choice data (training and validation material only): SICE's train scenes (every ``--sice-every``-th under-exposed
frame), LFW's training list (the router fit's held-out half, odd positions of ``--images`` spread over the list)
darkened by the router's training presets, CelebA's validation people darkened by ``real-mix``. Rule: the pair of bands
with the largest SICE train gain over the hard choice (sum of PSNR and 100 x SSIM, raw and matched) among those that
lose no more than ``--tolerance`` in any of the four on the LFW presets' mean or on CelebA. Reported, never chosen on:
SICE's validation scenes, with CIEDE2000 for the hard choice, the best one-share band and the chosen pair. SICE's test
scenes are not read. The record keeps every one-share band and the best admissible pairs. ``--save-curves`` also
keeps each image's router probability, router features (:func:`noise_features`) and fidelity grid in an ``.npz`` (keys
``SET:p``, ``SET:features``, ``SET:curve``), so that other rules for the shares can be scored without running the
networks again (``benchmarks/detail_feature.py``).

    python benchmarks/soft_routing.py --data-root ../shared/data --out benchmarks/results/split_routing/choice.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np
import torch
from tqdm import tqdm

from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.bench.report import provenance
from lowface.data.celeba import celeba_split
from lowface.data.lfw import lfw_train_images
from lowface.data.synth import synthesize, synthesize_float32
from lowface.inference.enhancer import Enhancer
from lowface.inference.routing import mix_tone_and_detail, restore_share, tone_and_detail
from lowface.inference.statistics import exposure_features, noise_features
from lowface.io import image_to_tensor, read_image
from lowface.metrics.color import match_brightness
from lowface.metrics.fidelity import psnr, ssim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from fit_noise_router import FIT_PRESETS


def lfw_held_out(data_root: Path, images: int) -> list[np.ndarray]:
    """The router fit's held-out half of LFW's training list: the odd positions of ``images`` spread over it, as
    (H, W, 3) uint8 images."""
    paths = lfw_train_images(data_root)
    spread = np.linspace(0, len(paths) - 1, min(images, len(paths))).round().astype(int)[1::2]
    return [read_image(paths[i]).rgb for i in spread]


def validation_sets(data_root: Path, face_preset: str | None = None, lfw_images: int = 0) -> dict[str, tuple]:
    """The (dark images, references) that the default's post-processing is chosen on: SICE's validation frames
    against their scenes' references ("sice"); with ``face_preset``, CelebA's validation people darkened by it (seed 0)
    against their clean photos ("faces"); with ``lfw_images``, :func:`lfw_held_out` of twice that many under each of
    the router's training presets (seed 1) against the clean images ("lfw-<preset>")."""
    pairs = RealPairsSet.load(data_root, "val")
    sets = {"sice": (pairs.dark, pairs.references)}
    if face_preset:
        clean = [read_image(p).rgb for p in celeba_split(data_root, "val")]
        sets["faces"] = (synthesize_float32(clean, face_preset, seed=0), clean)
    return sets | lfw_guard_sets(data_root, lfw_images)


def lfw_guard_sets(data_root: Path, lfw_images: int) -> dict[str, tuple]:
    """:func:`lfw_held_out` of twice ``lfw_images`` under each of the router's training presets (seed 1) against the
    clean images, as {"lfw-<preset>": (dark images, references)}; empty for 0."""
    if not lfw_images:
        return {}
    clean = lfw_held_out(data_root, 2 * lfw_images)
    return {f"lfw-{preset}": (synthesize(clean, preset, seed=1)[0], clean) for preset in FIT_PRESETS}


SHARES = np.linspace(0.0, 1.0, 6)  # the tone and detail shares at which each image's fidelity is measured
METRICS = ("psnr", "ssim", "psnr_matched", "ssim_matched")
SCALE = np.array([1.0, 100.0, 1.0, 100.0])  # gains in dB and SSIM points


def band_share(probability: np.ndarray, band: tuple[float, float] | None) -> np.ndarray:
    """Router probabilities -> the restoring network's share as the routed model takes it (:func:`restore_share`)."""
    return restore_share(torch.from_numpy(probability), band).numpy()


@torch.inference_mode()
def outputs(
    enhancer: Enhancer, dark: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, list[torch.Tensor], list[torch.Tensor]]:
    """Router probability (N,), router features (N, 3) and both networks' outputs (1, 3, H, W) of each dark (H, W, 3)
    float image."""
    probability, features, fast, restore = [], [], [], []
    for image in tqdm(dark, unit="img", leave=False):
        x = image_to_tensor(np.asarray(image, np.float32))
        brightness = exposure_features(x)
        probability.append(float(enhancer.model.probability(x, brightness)))
        features.append(noise_features(x, brightness)[0].numpy())
        fast.append(enhancer.enhance_tensor(x, route=torch.zeros(1)).clamp(0, 1))
        restore.append(enhancer.enhance_tensor(x, route=torch.ones(1)).clamp(0, 1))
    return np.array(probability), np.stack(features), fast, restore


def curves(fast: list[torch.Tensor], restore: list[torch.Tensor], references: list[np.ndarray]) -> np.ndarray:
    """(N, len(SHARES), len(SHARES), 4) fidelity of each mix (tone share, detail share), rounded to 8 bits as saved,
    in the order of METRICS."""
    rows, n = [], len(SHARES)
    grid = torch.as_tensor(SHARES, dtype=torch.float32)
    for f, r, reference in tqdm(list(zip(fast, restore, references, strict=True)), unit="img", leave=False):
        y = image_to_tensor(np.asarray(reference, np.float32))
        tone, detail = tone_and_detail(r - f)
        mixes = f + grid.view(-1, 1, 1, 1, 1) * tone + grid.view(1, -1, 1, 1, 1) * detail
        mixes = torch.round(mixes.clamp(0, 1).reshape(n * n, *f.shape[1:]) * 255) / 255
        matched = match_brightness(mixes, y.expand_as(mixes))
        values = torch.stack([psnr(mixes, y), ssim(mixes, y), psnr(matched, y), ssim(matched, y)], 1)
        rows.append(values.reshape(n, n, len(METRICS)).numpy())
    return np.stack(rows)


def at_shares(curve: np.ndarray, tone: np.ndarray, detail: np.ndarray) -> np.ndarray:
    """(N, n, n, 4) curves, (N,) tone and detail shares -> (4,) mean fidelity, bilinear between measured mixes."""
    steps = len(SHARES) - 1
    i, j = (np.clip(np.floor(s * steps).astype(int), 0, steps - 1) for s in (tone, detail))
    a, b = (tone * steps - i)[:, None], (detail * steps - j)[:, None]
    k = np.arange(len(curve))
    value = ((1 - a) * (1 - b) * curve[k, i, j] + a * (1 - b) * curve[k, i + 1, j] + (1 - a) * b * curve[k, i, j + 1]
             + a * b * curve[k, i + 1, j + 1])  # fmt: skip
    return value.mean(0)


@click.command()
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--images", default=600, show_default=True, help="LFW training-list images spread as the router's fit")
@click.option("--sice-every", default=3, show_default=True, help="every n-th under-exposed SICE train frame")
@click.option("--tolerance", default=0.05, show_default=True, help="largest loss allowed on LFW / CelebA (dB, SSIM %)")
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--save-curves",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also keep every image's probability, router features and fidelity grid here (.npz)",
)
def main(data_root: Path, images: int, sice_every: int, tolerance: float, threads: int, out: Path,
         save_curves: Path | None) -> None:  # fmt: skip
    torch.set_num_threads(threads)
    enhancer = Enhancer.from_pretrained("lowface-auto", gate=False)
    sets: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    train = RealPairsSet.load(data_root, "train", every=sice_every)
    sets["sice-train"] = (train.dark, [r / 255.0 for r in train.references])
    clean = lfw_held_out(data_root, images)
    for preset in FIT_PRESETS:
        sets[f"lfw-{preset}"] = (synthesize(clean, preset, seed=1)[0], clean)
    faces = [read_image(p).rgb for p in celeba_split(data_root, "val")]
    sets["celeba-val-real-mix"] = (synthesize_float32(faces, "real-mix", seed=0), faces)
    val = RealPairsSet.load(data_root, "val")
    sets["sice-val"] = (val.dark, [r / 255.0 for r in val.references])

    measured, val_outputs, saved = {}, None, {}
    for name, (dark, references) in tqdm(sets.items(), desc="sets"):
        probability, features, fast, restore = outputs(enhancer, dark)
        measured[name] = (probability, curves(fast, restore, references))
        saved.update({f"{name}:p": probability, f"{name}:features": features, f"{name}:curve": measured[name][1]})
        if name == "sice-val":
            val_outputs = (probability, fast, restore)
    if save_curves is not None:
        save_curves.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(save_curves, **saved)

    def fidelity(name: str, bands: tuple[tuple[float, float] | None, tuple[float, float] | None]) -> np.ndarray:
        probability, curve = measured[name]
        return at_shares(curve, band_share(probability, bands[0]), band_share(probability, bands[1]))

    hard = {n: fidelity(n, (None, None)) for n in measured}  # what every candidate is compared with
    lfw_sets = [f"lfw-{preset}" for preset in FIT_PRESETS]
    bands = [(round(float(low), 2), round(float(high), 2)) for low in np.arange(0.0, 0.51, 0.05)
             for high in np.arange(max(low + 0.05, 0.5), 1.001, 0.05)]  # fmt: skip
    candidates = []
    for pair in ((tone, detail) for tone in bands for detail in bands):
        g = {n: (fidelity(n, pair) - hard[n]) * SCALE for n in measured}
        lfw = np.mean([g[n] for n in lfw_sets], 0)
        candidates.append({
            "band": pair[0], "detail_band": pair[1], "sice_train": g["sice-train"].round(3).tolist(),
            "lfw_fit_presets": lfw.round(3).tolist(), "celeba_val": g["celeba-val-real-mix"].round(3).tolist(),
            "sice_val": g["sice-val"].round(3).tolist(),
            "admissible": bool(min(lfw.min(), g["celeba-val-real-mix"].min()) >= -tolerance),
            "score": round(float(g["sice-train"].sum()), 3),
        })  # fmt: skip
    admissible = sorted((c for c in candidates if c["admissible"]), key=lambda c: -c["score"])
    one_share = [c for c in candidates if c["band"] == c["detail_band"]]
    best_one = max((c for c in one_share if c["admissible"]), key=lambda c: c["score"], default=None)
    chosen = admissible[0] if admissible else None

    absolute = {}
    for label, c in (("hard", None), ("one-share", best_one), ("chosen", chosen)):
        pair = (c["band"], c["detail_band"]) if c else (None, None)
        absolute[label] = {"bands": pair, **{n: dict(zip(METRICS, fidelity(n, pair).round(4).tolist(), strict=True))
                                             for n in measured}}  # fmt: skip
        probability, fast, restore = val_outputs
        tone, detail = band_share(probability, pair[0]), band_share(probability, pair[1])
        mixes = []
        for f, r, t, d in zip(fast, restore, torch.from_numpy(tone), torch.from_numpy(detail), strict=True):
            mix = mix_tone_and_detail(f, r, t.view(1).to(f), d.view(1).to(f))  # what the routed model computes
            mixes.append(np.round(mix[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
        row = pair_fidelity(mixes, sets["sice-val"][1])
        absolute[label]["sice-val"].update({k: round(v, 4) for k, v in row.items() if k.startswith("ciede")})
        absolute[label]["sice-val"]["share_mixed"] = round(
            float(np.mean((tone > 0) & (tone < 1) | (detail > 0) & (detail < 1))), 4
        )
    for label, row in absolute.items():
        click.echo(f"{label} {row['bands']}")
        for name, values in row.items():
            if name != "bands":
                click.echo(f"  {name:22s} " + "  ".join(f"{k} {v:.3f}" for k, v in values.items()))
    record = {**provenance(threads), "sets": {n: len(p) for n, (p, _) in measured.items()}, "tolerance": tolerance,
              "chosen": absolute["chosen"]["bands"], "absolute": absolute, "one_share_bands": one_share,
              "best_admissible_pairs": admissible[:50]}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
