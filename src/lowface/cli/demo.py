"""``lowface demo``: darken a few LFW test faces, enhance them with shipped models, draw a comparison grid.

Only click, NumPy and Pillow are imported at the top (``lowface --help`` imports every command module).
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from PIL import Image, ImageDraw

from lowface.cli.common import data_root_option, names

DEMO_RATIOS = (0.15, 0.25, 0.35, 0.45)


def demo_faces(data_root: Path, count: int) -> list[tuple[str, np.ndarray]]:
    """(name, clean RGB) pairs: LFW test-pair faces when the data is there, else scikit-image's astronaut."""
    from lowface.data.public import public_face
    from lowface.io import read_image

    listing = Path(data_root) / "lfw" / "pairs_unique_images.txt"
    if listing.is_file():
        names = listing.read_text().split()[:: max(1, 7701 // max(count, 1))][:count]
        return [(Path(n).stem, read_image(Path(data_root) / "lfw" / "lfw-deepfunneled" / n).rgb) for n in names]
    astronaut = public_face()
    return [(f"astronaut_{i + 1}", astronaut) for i in range(count)]


def _labelled(tile: np.ndarray, label: str, size: int) -> Image.Image:
    from lowface.io import to_uint8

    image = Image.fromarray(to_uint8(tile)).resize((size, size))
    canvas = Image.new("RGB", (size, size + 18), "white")
    canvas.paste(image, (0, 18))
    ImageDraw.Draw(canvas).text((4, 3), label, fill="black")
    return canvas


def run_demo(data_root: Path, output: Path, count: int, models: list[str], size: int = 200) -> Path:
    """Write dark inputs, every model's output and ``grid.png`` (rows: faces; columns: dark, models, clean)."""
    from lowface.data.synth import darken_linear
    from lowface.inference.enhancer import Enhancer
    from lowface.io import ImageData, image_to_tensor, tensor_to_image, write_image

    output = Path(output)
    enhancers = [Enhancer.from_pretrained(name, gate=False) for name in models]
    rows = []
    for index, (name, clean) in enumerate(demo_faces(data_root, count)):
        ratio = DEMO_RATIOS[index % len(DEMO_RATIOS)]
        dark = darken_linear(clean, ratio).astype(np.float32)
        write_image(output / "dark" / f"{name}.png", ImageData(dark))
        tiles = [_labelled(dark, f"dark x{ratio}", size)]
        for enhancer in enhancers:
            result = tensor_to_image(enhancer.enhance_tensor(image_to_tensor(dark)))
            write_image(output / enhancer.name / f"{name}.png", ImageData(result))
            tiles.append(_labelled(result, enhancer.name, size))
        tiles.append(_labelled(clean, "clean", size))
        rows.append(tiles)
    grid = Image.new("RGB", (len(rows[0]) * size, len(rows) * (size + 18)), "white")
    for r, tiles in enumerate(rows):
        for c, tile in enumerate(tiles):
            grid.paste(tile, (c * size, r * (size + 18)))
    path = output / "grid.png"
    buffer_path = output / ".grid.png.part"
    grid.save(buffer_path, format="PNG")
    buffer_path.replace(path)
    return path


@click.command()
@data_root_option("lfw/ (falls back to a public-domain face when absent)")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("demo_out"), show_default=True)
@click.option("-n", "--count", default=4, show_default=True, help="Number of darkened LFW faces.")
@click.option(
    "--models",
    "model_names",
    default="lowface-auto,lowface,lowface-fast,gamma,lime",
    show_default=True,
    help="Comma-separated enhancers to show side by side.",
)
def demo(data_root: Path, output: Path, count: int, model_names: str) -> None:
    """Darken a few LFW test faces, enhance them with shipped models, write images and a comparison grid."""
    grid = run_demo(data_root, output, count, names(model_names))
    click.echo(f"enhanced images in {output}/, side-by-side grid: {grid}")
