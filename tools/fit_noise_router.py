"""Fit the noise router of ``lowface-auto`` (lowface.inference.routing) and write it into the package.

Usage: python tools/fit_noise_router.py --data-root ../shared/data [--images 600] [--fast lowface-fast]
       [--restore lowface-restore-real] [--out src/lowface/weights/noise_router.json]

Data, training material only: LFW's training list (identities disjoint from pairs.txt), ``--images`` of them evenly
spread over the list, even positions fit the router, odd positions are held out for the report; each image is darkened
by every training preset (seed 1). And real pairs: the under-exposed frames of SICE's train scenes against their
reference (lowface.data.sice). Both networks (``--fast``, ``--restore``) enhance every image (raw, no exposure gate;
with ``--exposure``, moved towards the shipped exposure target as lowface-auto does).
Label: 1 when the restoring network's output has the higher fidelity against the clean image or reference (the mean of
the raw PSNR and the PSNR after matching the output's mean luma to the reference's); sample weight: the difference
capped at 3 dB, so that the images where the choice matters decide the fit; the real pairs weigh as much as all
synthetic images together. Logistic regression on (log noise, log mean luma, log 95th percentile of luma),
lowface.inference.logistic.

Report: per held-out set - LFW's held-out images through the training presets (FIT_PRESETS) and through the
benchmark's presets (TEST_PRESETS, never fitted on), SICE's validation scenes - the share routed
to the restoring network and the mean PSNR of fast / restore / auto / the per-image better of the two; and the share
of the real low-light photos (no reference) routed to it; the same for the router the package ships now for
this pair of networks (``psnr_auto_shipped``), so that a refit is kept only where it routes better. ``--cache``
keeps the networks' scores (a file of tensors, keyed by both networks' fingerprints and the image count) for a rerun
with other fitting choices.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.assets import WEIGHTS, package_file
from lowface.data.lfw import lfw_train_images
from lowface.data.lowlight import LOWLIGHT_DIR, real_lowlight_photos
from lowface.data.sice import sice_pairs
from lowface.data.synth import synthesize
from lowface.inference.catalogue import ROUTED_CARDS, create_model, model_fingerprint, sha256_file
from lowface.inference.exposure import EXPOSURE_FILE, ExposureTarget, shipped_exposure
from lowface.inference.logistic import fit_logistic
from lowface.inference.routing import ROUTER_FILE, NoiseRouter, shipped_router
from lowface.inference.statistics import exposure_features, noise_features
from lowface.io import image_to_tensor, read_image
from lowface.metrics.color import match_brightness
from lowface.metrics.fidelity import psnr

FIT_PRESETS = ("linear-wide", "camera-range", "physical-range", "scale-noise-range")
TEST_PRESETS = ("linear", "linear-dark", "gamma-noise", "x0.15-noise0.02", "physical-1", "physical-3", "physical-10")
WEIGHT_CAP_DB = 3.0


def shipped_router_file(fast: str, restore: str) -> str:
    """The router file of the shipped routed card that pairs ``fast`` with ``restore`` (the one a refit would replace);
    lowface-auto's when no card pairs them."""
    for card in ROUTED_CARDS:
        if (card.kwargs["fast"], card.kwargs["restore"]) == (fast, restore):
            return card.kwargs["router"]
    return ROUTER_FILE


@torch.inference_mode()
def evaluate(dark: list[np.ndarray], clean: list[np.ndarray], networks: list,
             exposure: ExposureTarget | None = None) -> dict[str, torch.Tensor]:  # fmt: skip
    """Features (N, 3) and per-network fidelity (N, networks) of each dark image (float (H, W, 3)) against its
    clean one or reference: the mean of the raw PSNR and the PSNR after matching the output's mean luma to the
    reference's (the real-pairs benchmark reports both; the exposure of a reference is a choice, its structure
    is not). With an ``exposure`` target, each output is first moved towards it, as the routed model does."""
    features, scores = [], [[] for _ in networks]
    for low, ref in zip(dark, clean, strict=True):
        x, y = image_to_tensor(np.asarray(low, np.float32)), image_to_tensor(np.asarray(ref, np.float32))
        brightness = exposure_features(x)
        features.append(noise_features(x, brightness))
        for score, network in zip(scores, networks, strict=True):
            out = network.enhance(x).clamp(0, 1)
            if exposure is not None:
                out = exposure.settle(out.clone(), brightness)
            out = torch.round(out * 255) / 255
            score.append((psnr(out, y) + psnr(match_brightness(out, y), y)) / 2)
    return {"features": torch.cat(features), "psnr": torch.stack([torch.cat(s) for s in scores], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--images", type=int, default=600, help="training-list images used (half fit, half report)")
    parser.add_argument("--out", type=Path, default=Path("src/lowface/weights/noise_router.json"))
    parser.add_argument("--fast", default="lowface-fast", help="the network for clean dark images (choice 0)")
    parser.add_argument("--restore", default="lowface-restore-real", help="the restoring network (choice 1)")
    parser.add_argument("--restore-weights", type=Path, help="candidate weights for --restore (default: shipped)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="scores of both networks: read if present, else written")
    parser.add_argument("--exposure", action="store_true", help="score the outputs after the exposure control")
    args = parser.parse_args()
    names = (args.fast, args.restore)
    torch.set_num_threads(args.threads)

    paths = lfw_train_images(args.data_root)
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(args.images, len(paths))).round().astype(int)]
    fit_rows, report_rows = slice(0, None, 2), slice(1, None, 2)
    restore_id = sha256_file(args.restore_weights) if args.restore_weights else model_fingerprint(args.restore)
    exposure = shipped_exposure() if args.exposure else None
    key = {"fast": model_fingerprint(args.fast), "restore": restore_id, "images": len(paths),
           "exposure": sha256_file(package_file(WEIGHTS, EXPOSURE_FILE)) if args.exposure else None}  # fmt: skip
    if args.cache is not None and args.cache.is_file():
        cached = torch.load(args.cache, weights_only=True)
        if cached["key"] != key:
            raise SystemExit(f"{args.cache}: scores of other networks or images ({cached['key']}, not {key})")
        results, real = cached["results"], cached["real"]
    else:
        clean = [read_image(p).rgb for p in tqdm(paths, desc="reading", unit="img")]
        networks = [create_model(args.fast), create_model(args.restore, args.restore_weights)]
        results = {}
        for preset in tqdm(FIT_PRESETS + TEST_PRESETS, desc="presets"):
            dark = synthesize(clean, preset, seed=1)[0]
            results[preset] = evaluate(dark, clean, networks, exposure)
        real = {}
        for split in ("train", "val"):
            pairs = sice_pairs(args.data_root, split)
            dark = [read_image(d).rgb for d, _ in tqdm(pairs, desc=f"SICE {split}", unit="img")]
            real[split] = evaluate(dark, [read_image(r).rgb for _, r in pairs], networks, exposure)
        if args.cache is not None:
            torch.save({"key": key, "results": results, "real": real}, args.cache)

    synthetic = {
        "features": torch.cat([results[p]["features"][fit_rows] for p in FIT_PRESETS]),
        "gain": torch.cat([results[p]["psnr"][fit_rows, 1] - results[p]["psnr"][fit_rows, 0] for p in FIT_PRESETS]),
    }
    real_gain = real["train"]["psnr"][:, 1] - real["train"]["psnr"][:, 0]
    x = torch.cat([synthetic["features"], real["train"]["features"]])
    gain = torch.cat([synthetic["gain"], real_gain])
    real_weight = len(synthetic["gain"]) / len(real_gain)  # the real pairs weigh as much as the synthetic images
    balance = torch.cat([torch.ones_like(synthetic["gain"]), torch.full_like(real_gain, real_weight)])
    fit = fit_logistic(x, (gain > 0).float(), gain.abs().clamp(max=WEIGHT_CAP_DB) * balance)
    router = NoiseRouter.from_fit(fit)
    shipped_file = shipped_router_file(args.fast, args.restore)
    shipped = shipped_router(shipped_file)
    print(f"comparing with the shipped {shipped_file}")

    held_out = {preset: (r["features"][report_rows], r["psnr"][report_rows]) for preset, r in results.items()}
    held_out["sice-train"] = (real["train"]["features"], real["train"]["psnr"])
    held_out["sice-val"] = (real["val"]["features"], real["val"]["psnr"])
    summary = {}
    for preset, (features, scores) in held_out.items():
        restore = router.probability_from_features(features) > 0.5
        auto = torch.where(restore, scores[:, 1], scores[:, 0])
        shipped_auto = torch.where(shipped.probability_from_features(features) > 0.5, scores[:, 1], scores[:, 0])
        summary[preset] = {
            "fitted_on": preset in FIT_PRESETS or preset == "sice-train",
            "share_restore": round(float(restore.float().mean()), 4),
            "psnr_fast": round(float(scores[:, 0].mean()), 3),  # "psnr": the mean of raw and matched PSNR
            "psnr_restore": round(float(scores[:, 1].mean()), 3),
            "psnr_auto": round(float(auto.mean()), 3),
            "psnr_auto_shipped": round(float(shipped_auto.mean()), 3),  # the router shipped for this pair
            "psnr_best_of_two": round(float(scores.max(1).values.mean()), 3),
        }
        row = summary[preset]
        psnrs = " ".join(f"{k.removeprefix('psnr_')} {v:.2f}" for k, v in row.items() if k.startswith("psnr_"))
        print(f"{preset:20s} restore {100 * row['share_restore']:5.1f}%  PSNR {psnrs}")

    real_paths = real_lowlight_photos(args.data_root)
    real_choice = {}
    for path in tqdm(real_paths, desc="real photos", unit="img"):
        probability = router.probability(image_to_tensor(read_image(path).rgb))
        real_choice[str(path.relative_to(args.data_root / LOWLIGHT_DIR))] = round(float(probability), 4)
    real_share = float(np.mean([p > 0.5 for p in real_choice.values()])) if real_choice else None
    print(f"real low-light photos: {len(real_choice)}, routed to {args.restore}: {real_share}")

    router.save(
        args.out,
        networks=list(names),
        training_data=f"LFW train_images.txt, {len(paths[fit_rows])} images darkened by {list(FIT_PRESETS)} "
        f"(seed 1), and the {len(real_gain)} under-exposed frames of SICE's train scenes against their reference "
        f"(weighing as much as the synthetic images together); label: higher mean of raw and brightness-matched "
        f"PSNR of {args.restore} vs {args.fast}{' after the exposure control' if args.exposure else ''}, "
        f"weight |difference| capped at {WEIGHT_CAP_DB} dB",
        held_out_report=summary,
        real_photos_share_restore=real_share,
        real_photos_probability=real_choice,
    )
    print(f"router written to {args.out}")


if __name__ == "__main__":
    main()
