"""Choose the exposure target's shares and lift bound (lowface.inference.exposure) on validation data: the default's
outputs without exposure control, then moved (in log mean luma) ``share`` of the way down to the target's prediction
when brighter than it, ``brighten-share`` of the way up when darker, by at most ``max-lift``, by the shipped curve
(or, with ``--curve gamma``, by a gamma curve, for comparison), scored raw and brightness-matched
(lowface.bench.real_pairs.pair_fidelity) on SICE's validation scenes against each scene's reference and, with
``--faces PRESET``, on CelebA's validation people darkened by that preset against their clean photos, with FaceNet's
mean identity similarity (as benchmarks/real_pairs_select.py computes it).

    python benchmarks/exposure_share.py --shares 0,0.25,0.5,0.75,1 --out val_shares.json
    python benchmarks/exposure_share.py --darken-only --shares 0.5,0.75 --faces real-mix --out val_faces.json
    python benchmarks/exposure_share.py --shares 0.5 --brighten-shares 0,0.25,0.5,0.75,1 \
        --max-lifts 0.1,0.2,0.35,0.5,inf --faces real-mix --identity facenet,dlib --out val_lift.json
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import click
import numpy as np
import torch

from lowface.bench.methods import pretrained
from lowface.bench.real_pairs import pair_fidelity
from lowface.bench.report import provenance
from lowface.bench.wild import embed_all, identity_similarity
from lowface.face.pipeline import RecognitionPipeline
from lowface.inference.exposure import ExposureTarget, mean_luma, shipped_exposure
from lowface.inference.statistics import exposure_features
from lowface.io import image_to_tensor, tensor_to_uint8

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soft_routing import validation_sets


def gamma_settle(out: torch.Tensor, aim: torch.Tensor) -> torch.Tensor:
    """out (1, 3, H, W) with mean luma moved to exp(aim) by a gamma curve (bisection on log gamma in [-3, 3])."""
    low, high = -3.0, 3.0
    for _ in range(30):
        middle = (low + high) / 2
        if float(mean_luma(out ** np.exp(middle)).clamp_min(1e-3).log()) > float(aim):
            low = middle
        else:
            high = middle
    return out ** np.exp((low + high) / 2)


def moved(target: ExposureTarget, curve: str, out: torch.Tensor, features: torch.Tensor) -> np.ndarray:
    """One output (1, 3, H, W) moved by ``target`` with ``curve``, as 8-bit (H, W, 3)."""
    if curve == "shipped":
        return tensor_to_uint8(target.settle(out.clone(), features)[0])
    log_mean = mean_luma(out).clamp_min(1e-3).log()
    aim = log_mean + target.move(target.predicted_from_features(features) - log_mean)
    return tensor_to_uint8(gamma_settle(out, aim)[0])


@click.command()
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--shares", default="0,0.25,0.5,0.75,1", show_default=True)
@click.option("--curve", type=click.Choice(["shipped", "gamma"]), default="shipped", show_default=True)
@click.option("--brighten/--darken-only", default=True, show_default=True,
              help="Move outputs both ways (brightening by --brighten-shares, by default as --shares), or only those "
              "brighter than the prediction.")  # fmt: skip
@click.option("--brighten-shares", default=None, help="Comma-separated; default: each of --shares.")
@click.option("--max-lifts", default="inf", show_default=True, help="Comma-separated bounds on brightening (log luma).")
@click.option("--faces", "face_preset", default=None, help="Also CelebA's validation people darkened by this preset.")
@click.option("--lfw-images", default=0, show_default=True,
              help="Also this many LFW training-list images (spread as soft_routing.py's) under the router's four "
              "training presets, against the clean images.")  # fmt: skip
@click.option("--identity", default="facenet", show_default=True, help="Judges of the faces' identity similarity.")
@click.option("--model", default="lowface-auto", show_default=True, help="A routed model; its networks' outputs.")
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def main(data_root, shares, curve, brighten, brighten_shares, max_lifts, face_preset, lfw_images, identity, model,
         threads, out) -> None:  # fmt: skip
    torch.set_num_threads(threads)
    sets = validation_sets(data_root, face_preset, lfw_images)
    judges = {name: RecognitionPipeline(name).eval() for name in identity.split(",")} if face_preset else {}
    clean_vectors = {name: embed_all(judge, sets["faces"][1])[0] for name, judge in judges.items()}
    lift_shares = [0.0] if not brighten else brighten_shares and [float(v) for v in brighten_shares.split(",")]
    lifts = [float(v) for v in max_lifts.split(",")] if brighten else [math.inf]
    settings = [(share, lift_share, max_lift) for share in map(float, shares.split(","))
                for lift_share in lift_shares or [share] for max_lift in lifts]  # fmt: skip
    enhancer = pretrained(model)
    target = shipped_exposure()  # (the default's, whichever routed model runs)
    enhancer.model.exposure = None  # the networks' own brightness
    rows: dict[str, dict] = {}
    for name, (dark, references) in sets.items():
        outputs = [image_to_tensor(enhancer.enhance(image)) for image in dark]
        features = [exposure_features(image_to_tensor(image)) for image in dark]
        for share, lift_share, max_lift in settings:
            setting = replace(target, share=share, brighten_share=lift_share, max_lift=max_lift)
            images = [moved(setting, curve, o, f) for o, f in zip(outputs, features, strict=True)]
            key = f"{share:g}" if not brighten or brighten_shares is None else f"{share:g}/{lift_share:g}/{max_lift:g}"
            r = rows.setdefault(key, {})[name] = pair_fidelity(images, references, 16 if name == "sice" else 1)
            for judge_name, judge in judges.items() if name == "faces" else ():
                r[f"identity_{judge_name}"] = identity_similarity(judge, images, references, clean_vectors[judge_name])
            click.echo(f"{name:5s} {key} ({curve}): PSNR {r['psnr']:.2f}  SSIM {r['ssim']:.3f}  "
                       f"dE00 {r['ciede2000']:.2f} | matched PSNR {r['psnr_matched']:.2f}  SSIM "
                       f"{r['ssim_matched']:.3f}  dE00 {r['ciede2000_matched']:.2f}"
                       + "".join(f" | identity {k[9:]} {v:.4f}" for k, v in r.items() if k.startswith("identity_"))
                       )  # fmt: skip
    if out:
        record = {**provenance(threads), "model": model, "split": "val", "frames": len(sets["sice"][0]),
                  "face_preset": face_preset, "curve": curve, "brighten": brighten, "identity": identity,
                  "exposure_target": target.to_dict(), "rows": rows}  # fmt: skip
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
