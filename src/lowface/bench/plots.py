"""The benchmark's figures: image grids, metric plots and failure cases (matplotlib, headless), as PNG or JPEG
bytes ready to inline."""

from __future__ import annotations

import base64
import io

import numpy as np

from lowface.bench.methods import BOUNDS


def image_suffix(data: bytes) -> str:
    """ "jpg" or "png", from the file's magic bytes."""
    return "jpg" if data[:2] == b"\xff\xd8" else "png"


def data_uri(data: bytes) -> str:
    mime = "image/jpeg" if image_suffix(data) == "jpg" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def figure_bytes(figure, photo: bool = False) -> bytes:
    """The figure as PNG (plots) or JPEG quality 88 (image grids: a tenth of the size)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    if photo:
        figure.savefig(buffer, format="jpg", dpi=80, bbox_inches="tight", pil_kwargs={"quality": 88})
    else:
        figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def image_grid(columns: list[tuple[str, list[np.ndarray]]], title: str = "") -> bytes:
    """A JPEG of images laid out as labelled columns (label, list of (H, W, 3) uint8 or float images)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(columns[0][1])
    figure, axes = plt.subplots(count, len(columns), figsize=(1.6 * len(columns), 1.7 * count), squeeze=False)
    for j, (label, images) in enumerate(columns):
        for i, image in enumerate(images):
            axes[i][j].imshow(np.clip(np.asarray(image, np.float32) / (255 if image.dtype == np.uint8 else 1), 0, 1))
            axes[i][j].set_xticks([])
            axes[i][j].set_yticks([])
        axes[0][j].set_title(label, fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure_bytes(figure, photo=True)


def metric_plot(rows: dict[str, dict], record: dict, title: str) -> bytes:
    """Bars per method: verification accuracy per judge (clean and none as lines) and PSNR."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judges = record["config"]["judges"]
    methods = [m for m in rows if m not in BOUNDS]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6))
    width = 0.8 / len(judges)
    for k, judge in enumerate(judges):
        values = [100 * rows[m]["judges"][judge]["accuracy"] for m in methods]
        bars = left.bar(np.arange(len(methods)) + k * width, values, width, label=judge)
        for bound, style in (("clean", "--"), ("none", ":")):
            if bound in rows:
                value = 100 * rows[bound]["judges"][judge]["accuracy"]
                left.axhline(value, linestyle=style, color=bars[0].get_facecolor(), label=f"{judge} {bound}")
    left.set_xticks(np.arange(len(methods)) + 0.4 - width / 2, methods, rotation=60, ha="right", fontsize=8)
    left.set_ylabel("verification accuracy %")
    low = min(100 * r["judges"][j]["accuracy"] for r in rows.values() for j in judges)
    left.set_ylim(max(50, low - 3), 100)
    left.legend(fontsize=7, ncol=2)
    psnr_methods = [m for m in methods if rows[m].get("psnr") is not None]
    right.bar(psnr_methods, [rows[m]["psnr"] for m in psnr_methods], color="grey")
    right.set_xticks(range(len(psnr_methods)), psnr_methods, rotation=60, ha="right", fontsize=8)
    right.set_ylabel("PSNR dB (vs clean)")
    figure.suptitle(title)
    return figure_bytes(figure)


def failure_pairs(rows: dict[str, dict], method: str, judge: str, pairs_same: list[bool], count: int) -> list:
    """Indices of the same-identity pairs whose similarity dropped most from "none" to ``method``."""
    if method not in rows or "none" not in rows:
        return []
    before = np.array(rows["none"]["judges"][judge]["scores"])
    after = np.array(rows[method]["judges"][judge]["scores"])
    drop = np.where(np.array(pairs_same), before - after, -np.inf)
    order = np.argsort(-drop)[:count]
    return [(int(i), float(before[i]), float(after[i])) for i in order if np.isfinite(drop[i]) and drop[i] > 0]
