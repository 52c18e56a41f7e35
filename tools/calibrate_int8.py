"""Calibrate the int8 denoiser of a shipped restoring network and write its ranges into the package.

Usage: python tools/calibrate_int8.py lowface-restore-real --data-root ../shared/data [--sice-step 4] [--faces 96]

Training material only: every ``--sice-step``-th under-exposed frame of SICE's train scenes (real sensor noise and
camera processing, 512 x 512) and ``--faces`` LFW training-list images (identities disjoint from pairs.txt) darkened
by each of the router's training presets (seed 1): the inputs the denoiser sees, through the network's own enhancer,
observed by PyTorch's histogram observers (lowface.inference.int8). Writes
``src/lowface/weights/<weights>.int8.json`` (ranges, the network's fingerprint, the command, the data) and its
checksum into SHA256SUMS.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.assets import record_checksum
from lowface.data.lfw import lfw_train_images
from lowface.data.sice import sice_pairs
from lowface.data.synth import synthesize
from lowface.inference.catalogue import create_model, model_card, model_fingerprint
from lowface.inference.int8 import calibrate, int8_file
from lowface.io import image_to_tensor, read_image

FIT_PRESETS = ("linear-wide", "camera-range", "physical-range", "scale-noise-range")  # the router's training presets
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "lowface" / "weights"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="a shipped restoring network, e.g. lowface-restore-real")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sice-step", type=int, default=4, help="every n-th under-exposed SICE train frame")
    parser.add_argument("--faces", type=int, default=96, help="LFW training-list images, each through every preset")
    parser.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    card = model_card(args.name)
    model = create_model(args.name)
    denoiser = model.denoiser

    sice = [read_image(dark).rgb for dark, _ in sice_pairs(args.data_root, "train")[:: args.sice_step]]
    paths = lfw_train_images(args.data_root)
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(args.faces, len(paths))).round().astype(int)]
    clean = [read_image(p).rgb for p in paths]
    faces = [image for preset in FIT_PRESETS for image in synthesize(clean, preset, seed=1)[0]]

    def folded_inputs():
        """The denoiser's folded input for each image (what its first layer sees), as the network makes it."""
        captured = []
        hook = denoiser.encode1.register_forward_pre_hook(lambda _, inputs: captured.append(inputs[0].clone()))
        try:
            for image in tqdm(sice + faces, desc="calibrating", unit="img"):
                with torch.inference_mode():
                    model(image_to_tensor(np.asarray(image, np.float32)))
                yield captured.pop()
        finally:
            hook.remove()

    ranges = calibrate(denoiser, folded_inputs())
    out = args.out_dir / int8_file(card.file)
    record = {
        "network": args.name,
        "fingerprint": model_fingerprint(args.name),
        "backend": "x86",
        "ranges": ranges,
        "command": " ".join(["python", *sys.argv]),
        "date": date.today().isoformat(),
        "calibration_data": f"{len(sice)} under-exposed frames of SICE's train scenes (every {args.sice_step}th) and "
        f"{len(clean)} LFW training-list images darkened by {list(FIT_PRESETS)} (seed 1)",
        "licence": card.licence,
    }
    out.write_text(json.dumps(record, indent=1) + "\n")
    record_checksum(out)
    print(f"{len(ranges)} activation ranges -> {out}")


if __name__ == "__main__":
    main()
