"""Choose the exposure target's ``share`` and direction (lowface.inference.exposure) on validation data: the default's
outputs without exposure control, then moved ``share`` of the way (in log mean luma) to the target's prediction by the
shipped curve (or, with ``--curve gamma``, by a gamma curve, for comparison), scored raw and brightness-matched
(lowface.bench.real_pairs.pair_fidelity) on SICE's validation scenes against each scene's reference and, with
``--faces PRESET``, on CelebA's validation people darkened by that preset against their clean photos, with FaceNet's
mean identity similarity (as benchmarks/real_pairs_select.py computes it).

    python benchmarks/exposure_share.py --shares 0,0.25,0.5,0.75,1 --out val_shares.json
    python benchmarks/exposure_share.py --darken-only --shares 0.5,0.75 --faces real-mix --out val_faces.json
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click
import numpy as np
import torch

from lowface.bench.methods import pretrained
from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.bench.report import provenance
from lowface.bench.wild import embed_all, identity_similarity
from lowface.data.celeba import celeba_split
from lowface.data.synth import synthesize_float32
from lowface.face.pipeline import RecognitionPipeline
from lowface.inference.exposure import ExposureTarget, mean_luma, shipped_exposure
from lowface.inference.statistics import exposure_features
from lowface.io import image_to_tensor, read_image, tensor_to_uint8


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
    aim = log_mean + target.share * (target.predicted_from_features(features) - log_mean)
    return tensor_to_uint8(gamma_settle(out, aim if target.brighten else torch.minimum(aim, log_mean))[0])


@click.command()
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--shares", default="0,0.25,0.5,0.75,1", show_default=True)
@click.option("--curve", type=click.Choice(["shipped", "gamma"]), default="shipped", show_default=True)
@click.option("--brighten/--darken-only", default=True, show_default=True,
              help="Move outputs both ways, or only those brighter than the prediction.")  # fmt: skip
@click.option("--faces", "face_preset", default=None, help="Also CelebA's validation people darkened by this preset.")
@click.option("--model", default="lowface-auto", show_default=True, help="A routed model; its networks' outputs.")
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def main(data_root, shares, curve, brighten, face_preset, model, threads, out) -> None:
    torch.set_num_threads(threads)
    pairs = RealPairsSet.load(data_root, "val")
    sets = {"sice": (pairs.dark, pairs.references)}
    if face_preset:
        clean = [read_image(p).rgb for p in celeba_split(data_root, "val")]
        sets["faces"] = (synthesize_float32(clean, face_preset, seed=0), clean)
    facenet = RecognitionPipeline("facenet").eval() if face_preset else None
    clean_vectors = embed_all(facenet, sets["faces"][1])[0] if face_preset else None
    enhancer = pretrained(model)
    target = shipped_exposure()  # (the default's, whichever routed model runs)
    enhancer.model.exposure = None  # the networks' own brightness
    rows: dict[str, dict] = {}
    for name, (dark, references) in sets.items():
        outputs = [image_to_tensor(enhancer.enhance(image)) for image in dark]
        features = [exposure_features(image_to_tensor(image)) for image in dark]
        for share in map(float, shares.split(",")):
            setting = replace(target, share=share, brighten=brighten)
            images = [moved(setting, curve, o, f) for o, f in zip(outputs, features, strict=True)]
            r = rows.setdefault(f"{share:g}", {})[name] = pair_fidelity(images, references, 16 if name == "sice" else 1)
            if name == "faces":
                r["identity_facenet"] = identity_similarity(facenet, images, references, clean_vectors)
            how = curve if brighten else f"{curve}, darken only"
            click.echo(f"{name:5s} share {share:4.2f} ({how}): PSNR {r['psnr']:.2f}  SSIM {r['ssim']:.3f}  "
                       f"dE00 {r['ciede2000']:.2f} | matched PSNR {r['psnr_matched']:.2f}  SSIM "
                       f"{r['ssim_matched']:.3f}  dE00 {r['ciede2000_matched']:.2f}"
                       + (f" | identity FaceNet {r['identity_facenet']:.4f}" if name == "faces" else ""))  # fmt: skip
    if out:
        record = {**provenance(threads), "model": model, "split": "val", "frames": len(pairs.dark),
                  "face_preset": face_preset, "curve": curve, "brighten": brighten,
                  "exposure_target": target.to_dict(), "rows": rows}  # fmt: skip
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
