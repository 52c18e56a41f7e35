"""Overlay images of the LaPa-style face parser (``lowface.face.parsing``).

python tools/parsing_overlays.py --out docs/parsing_overlay.png   # public-domain astronaut (committed)
python tools/parsing_overlays.py --data-root ../shared/data --out /tmp/lfw.png   # LFW faces (never committed)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from lowface.face.parsing import FaceParser, overlay
from lowface.io import read_image


def sample_images(data_root: str | None, count: int) -> list[np.ndarray]:
    if data_root is None:
        from skimage.data import astronaut

        image = astronaut()[:260, 80:340]  # the face and hair
        return [image, image[:, ::-1].copy(), (image * 0.35).astype(np.uint8)]
    from lowface.data.lfw import lfw_train_images

    paths = lfw_train_images(data_root)[:: max(len(lfw_train_images(data_root)) // count, 1)][:count]
    return [(read_image(p).rgb * 255).round().astype(np.uint8) for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=None, help="LFW data root; default: scikit-image's astronaut")
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--out", default="docs/parsing_overlay.png")
    args = parser.parse_args()
    face_parser = FaceParser()
    rows = []
    for image in sample_images(args.data_root, args.count):
        labels = face_parser.parse(image)
        shown = overlay(image, labels) if labels is not None else image
        rows.append(np.concatenate([image, shown], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
