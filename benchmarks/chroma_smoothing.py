"""Choose the default's chroma smoothing (lowface.inference.chroma) on validation data: the default's outputs
(exposure control included) without it, then with each setting - radius share, eps, dark band - scored raw and
brightness-matched (lowface.bench.real_pairs.pair_fidelity) on SICE's validation scenes, CelebA's validation people
darkened by ``--faces`` (with each judge's mean identity similarity to the clean photo, as
benchmarks/real_pairs_select.py computes it) and, with ``--lfw-images N``, LFW training-list images under the router's
four training presets (spread as benchmarks/soft_routing.py's).

    python benchmarks/chroma_smoothing.py --radius-shares 0.0078125,0.015625 --darks 0.02-0.1,0.05-0.25 \
        --faces real-mix --identity facenet,dlib --lfw-images 300 --out val.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import torch

from lowface.bench.methods import pretrained
from lowface.bench.real_pairs import pair_fidelity
from lowface.bench.report import provenance
from lowface.bench.wild import embed_all, identity_similarity
from lowface.face.pipeline import RecognitionPipeline
from lowface.inference.chroma import ChromaSmoothing
from lowface.io import as_float, image_to_tensor, tensor_to_uint8

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soft_routing import validation_sets


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


@click.command()
@click.option("--data-root", default=Path("../shared/data"), type=click.Path(path_type=Path), show_default=True)
@click.option("--radius-shares", default="0.0078125", show_default=True, help="Comma-separated radius shares.")
@click.option("--eps", "eps_values", default="0.001", show_default=True, help="Comma-separated guided-filter eps.")
@click.option("--darks", default="0.02-0.1", show_default=True, help="Comma-separated dark bands LOW-HIGH.")
@click.option("--faces", "face_preset", default=None, help="Also CelebA's validation people darkened by this preset.")
@click.option("--identity", default="facenet", show_default=True, help="Judges of the faces' identity similarity.")
@click.option("--lfw-images", default=0, show_default=True, help="Also this many LFW training-list images.")
@click.option("--model", default="lowface-auto", show_default=True, help="A routed model.")
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def main(data_root, radius_shares, eps_values, darks, face_preset, identity, lfw_images, model, threads, out) -> None:
    torch.set_num_threads(threads)
    sets = validation_sets(data_root, face_preset, lfw_images)
    judges = {name: RecognitionPipeline(name).eval() for name in identity.split(",")} if face_preset else {}
    clean_vectors = {name: embed_all(judge, sets["faces"][1])[0] for name, judge in judges.items()}
    settings = {"none": None} | {
        f"{share:g}/{eps:g}/{dark}": ChromaSmoothing(share, eps, tuple(float(v) for v in dark.split("-")))
        for share in floats(radius_shares) for eps in floats(eps_values) for dark in darks.split(",")}  # fmt: skip
    enhancer = pretrained(model)
    enhancer.model.chroma = None  # the default's outputs before the smoothing
    rows: dict[str, dict] = {}
    for name, (dark, references) in sets.items():
        inputs = [image_to_tensor(as_float(image)) for image in dark]
        outputs = [image_to_tensor(enhancer.enhance(image)) for image in dark]
        for key, chroma in settings.items():
            images = [tensor_to_uint8((o if chroma is None else chroma.apply_(o.clone(), x))[0])
                      for o, x in zip(outputs, inputs, strict=True)]  # fmt: skip
            r = rows.setdefault(key, {})[name] = pair_fidelity(images, references, 16 if name == "sice" else 1)
            for judge_name, judge in judges.items() if name == "faces" else ():
                r[f"identity_{judge_name}"] = identity_similarity(judge, images, references, clean_vectors[judge_name])
            identities = "".join(f" | identity {k[9:]} {v:.4f}" for k, v in r.items() if k.startswith("identity_"))
            click.echo(f"{name:5s} {key}: PSNR {r['psnr']:.2f}  SSIM {r['ssim']:.3f}  dE00 {r['ciede2000']:.2f} | "
                       f"matched PSNR {r['psnr_matched']:.2f}  SSIM {r['ssim_matched']:.3f}  dE00 "
                       f"{r['ciede2000_matched']:.2f}{identities}")  # fmt: skip
    if out:
        record = {**provenance(threads), "model": model, "split": "val", "frames": len(sets["sice"][0]),
                  "face_preset": face_preset, "identity": identity, "lfw_images": lfw_images, "rows": rows}  # fmt: skip
        out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
