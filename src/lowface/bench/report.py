"""The benchmark's outputs: markdown tables (Table II / IV style, best in bold) and a self-contained HTML
report (tables, image grids, metric plots, failure cases; every image inlined as a data URI)."""

from __future__ import annotations

import base64
import html
import io
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from lowface.bench.methods import BOUNDS


def provenance(threads: int | None = None) -> dict[str, str]:
    """The exact command line, today's date and a description of this machine."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    script = sys.argv[0]
    program = ["python", script] if script.endswith(".py") else [Path(script).name]  # a script or `lowface`
    return {
        "command": " ".join([*program, *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": machine + (f", {threads} thread(s)" if threads else ""),
    }


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict], float | None]
    higher_is_better: bool
    fmt: str = "{:.2f}"


def _get(*keys: str) -> Callable[[dict], float | None]:
    def value(row: dict) -> float | None:
        for key in keys:
            if row is None or key not in row:
                return None
            row = row[key]
        return row

    return value


def _percent(getter: Callable[[dict], float | None]) -> Callable[[dict], float | None]:
    return lambda row: None if (v := getter(row)) is None else 100 * v


def quality_columns(record: dict) -> list[Column]:
    """Table II style: fidelity against clean (synthetic only), no-reference quality, detection, speed."""
    columns = [
        Column("PSNR dB", _get("psnr"), True),
        Column("SSIM", _get("ssim"), True, "{:.3f}"),
        Column("NIQE", _get("niqe"), False),
        Column("BRISQUE", _get("brisque"), False, "{:.1f}"),
        Column("LOE", _get("loe"), False, "{:.1f}"),
        Column("EffNet dist", _get("feature_distance"), False, "{:.3f}"),
        Column("KID-EffNet x1e3", _get("kid_x1000"), False, "{:.1f}"),
    ]
    if record["config"].get("lpips_vgg"):
        columns.append(Column("LPIPS-VGG", _get("lpips_vgg"), False, "{:.3f}"))
    for name in record["config"]["detectors"]:
        columns.append(Column(f"{name} det %", _percent(_get("detectors", name, "detection_rate")), True, "{:.1f}"))
        columns.append(Column(f"{name} lmk %", _percent(_get("detectors", name, "landmark_success")), True, "{:.1f}"))
    return columns


def recognition_columns(record: dict) -> list[Column]:
    """Table IV style, per judge: verification accuracy, TAR@FAR=1e-3, rank-1, recovery."""
    columns = []
    for judge in record["config"]["judges"]:
        columns += [
            Column(f"{judge} acc %", _percent(_get("judges", judge, "accuracy")), True),
            Column(f"{judge} TAR@1e-3 %", _percent(_get("judges", judge, "tar_at_far_1e-3")), True, "{:.1f}"),
            Column(f"{judge} rank-1 %", _percent(_get("judges", judge, "rank1")), True, "{:.1f}"),
            Column(f"{judge} recovery %", _percent(_get("judges", judge, "recovery")), True, "{:.0f}"),
        ]
    return columns


def real_columns(record: dict) -> list[Column]:
    columns = [Column("NIQE", _get("niqe"), False), Column("BRISQUE", _get("brisque"), False, "{:.1f}")]
    columns.append(Column("LOE", _get("loe"), False, "{:.1f}"))
    for name in record["config"]["detectors"]:
        columns.append(Column(f"{name} faces", _get("detectors", name, "faces"), True, "{:.0f}"))
    return columns


def real_pairs_columns(record: dict) -> list[Column]:
    """Real pairs: fidelity to the scene's reference, raw and brightness-matched; faces found and invented."""
    columns = []
    for suffix, note in (("", ""), ("_matched", " matched")):
        columns += [
            Column(f"PSNR{note} dB", _get("psnr" + suffix), True),
            Column(f"SSIM{note}", _get("ssim" + suffix), True, "{:.3f}"),
            Column(f"ΔE00{note}", _get("ciede2000" + suffix), False),
        ]
    for name in record["config"]["detectors"]:
        columns.append(Column(f"{name} found", _get("detectors", name, "found"), True, "{:.0f}"))
        columns.append(Column(f"{name} invented", _get("detectors", name, "invented"), False, "{:.0f}"))
    return columns


def real_pairs_heading(record: dict) -> str:
    sice = record["sice"]
    return (
        f"Real pairs: SICE {sice['split']} scenes ({sice['frames']} under-exposed frames of {sice['scenes']} scenes "
        "against each scene's reference frame; matched = output scaled to the reference's mean luma)"
    )


def speed_columns() -> list[Column]:
    return [
        Column("ms/MP", _get("ms_per_megapixel"), False, "{:.0f}"),
        Column("peak RSS MB", _get("peak_rss_mb"), False, "{:.0f}"),
    ]


def table_cells(rows: dict[str, dict], columns: list[Column]) -> list[list[tuple[str, bool]]]:
    """(text, is_best) per method and column; the bounds ("clean", "none") never count as best."""
    best = {}
    for column in columns:
        values = [column.value(r) for m, r in rows.items() if m not in BOUNDS]
        values = [v for v in values if v is not None and np.isfinite(v)]
        best[column.header] = (max if column.higher_is_better else min)(values) if values else None
    table = []
    for method, row in rows.items():
        cells = [(method, False)]
        for column in columns:
            value = column.value(row)
            text = "-" if value is None else column.fmt.format(value)
            if column.header.endswith("acc %") and value is not None:
                text += " ± " + "{:.2f}".format(100 * _get("judges", column.header.split()[0], "std")(row))
            cells.append((text, method not in BOUNDS and value is not None and value == best[column.header]))
        table.append(cells)
    return table


def markdown_table(rows: dict[str, dict], columns: list[Column]) -> list[str]:
    arrows = [f"{c.header} {'↑' if c.higher_is_better else '↓'}" for c in columns]
    lines = ["| method | " + " | ".join(arrows) + " |", "|---" * (1 + len(columns)) + "|"]
    for cells in table_cells(rows, columns):
        lines.append("| " + " | ".join(f"**{t}**" if bold else t for t, bold in cells) + " |")
    return lines


def summary(record: dict, command: str, date: str, machine: str) -> str:
    c = record["config"]
    if not record["lfw"]:
        return (
            "`lowface bench` on real images: NIQE (MATLAB algorithm, official pristine model), BRISQUE (brisque 0.2.0 "
            "model), LOE (against the method's input) and face detections on the real low-light photos; PSNR, SSIM "
            "(RGB, 11x11 Gaussian window) and CIEDE2000 of SICE's real under-exposed frames against their scene's "
            "reference, raw and brightness-matched, and faces found / invented per detector. Speed: one "
            f"{c['speed_size'][0]}x{c['speed_size'][1]} image, {c['threads']} thread(s). "
            f"Command: `{command}`, {date}, {machine}."
        )
    return (
        f"`lowface bench`: the {record['images']} images of the first {record['pairs']} LFW pairs darkened by each "
        f"preset (seed 0); PSNR/SSIM against the clean image on all of them (RGB, data range 1, 11x11 Gaussian "
        f"SSIM window); NIQE (MATLAB algorithm, official pristine model), BRISQUE (brisque 0.2.0 model), "
        f"LOE (against the method's input), "
        f"EffNet dist (unlearned LPIPS-style distance on ImageNet EfficientNet-Lite0 features, not LPIPS) and "
        f"KID-EffNet (KID on its pooled features, not KID-Inception) against the clean images, and "
        f"detection on {len(record['sample'])} evenly spaced images; recognition on all pairs (10-fold accuracy "
        f"± std over folds, alignment from the clean image), rank-1 = clean gallery / processed probes, "
        f"recovery = share of the dark-to-clean accuracy gap won back. Speed: one "
        f"{c['speed_size'][0]}x{c['speed_size'][1]} image, {c['threads']} thread(s), each method in its own "
        f"process. Command: `{command}`, {date}, {machine}."
    )


def markdown_report(record: dict, provenance: dict) -> list[str]:
    lines = [summary(record, **provenance)]
    for preset, rows in record["lfw"].items():
        lines += [
            "",
            f"**LFW, {preset}: image quality and detection**",
            "",
            *markdown_table(rows, quality_columns(record)),
        ]
        lines += ["", f"**LFW, {preset}: recognition**", "", *markdown_table(rows, recognition_columns(record))]
    if record.get("real_pairs"):
        table = markdown_table(record["real_pairs"], real_pairs_columns(record))
        lines += ["", f"**{real_pairs_heading(record)}**", "", *table]
    if record["real"]:
        lines += ["", f"**Real low-light photos ({len(record['real_photos'])}, no reference)**: faces = detections", ""]
        lines += markdown_table(record["real"], real_columns(record))
    if record["speed"]:
        lines += ["", "**Speed**", "", *markdown_table(record["speed"], speed_columns())]
    return lines


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


CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
td:first-child,th:first-child{text-align:left}
th{background:#f2f2f2} .best{font-weight:bold;background:#e8f4e8}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
.note{color:#555;font-size:13px;max-width:1100px}
"""

CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.from(document.images);
  var ok = images.filter(function (im) { return im.complete && im.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-total', images.length);
  document.body.setAttribute('data-images-loaded', ok);
  document.body.setAttribute('data-tables', document.querySelectorAll('table').length);
});
"""


def html_table(rows: dict[str, dict], columns: list[Column]) -> str:
    arrows = "".join(f"<th>{html.escape(c.header)} {'↑' if c.higher_is_better else '↓'}</th>" for c in columns)
    body = []
    for cells in table_cells(rows, columns):
        tds = "".join(f"<td{' class=best' if bold else ''}>{html.escape(t)}</td>" for t, bold in cells)
        body.append(f"<tr>{tds}</tr>")
    return f"<table><tr><th>method</th>{arrows}</tr>{''.join(body)}</table>"


def html_report(record: dict, provenance: dict, figures: dict[str, list[tuple[str, bytes]]]) -> str:
    """The whole report as one HTML string; ``figures``: section name -> [(caption, png bytes)]."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>lowface bench</title>",
        f"<style>{CSS}</style><script>{CHECK_SCRIPT}</script></head><body>",
        "<h1>lowface bench: does enhancement help people and face recognition?</h1>",
        f"<p class=note>{html.escape(summary(record, **provenance))}</p>",
    ]

    def add_figures(section: str) -> None:
        for caption, png in figures.get(section, []):
            if not png:  # a figure left out on purpose (e.g. faces that may not be redistributed)
                parts.append(f"<p class=note>{html.escape(caption)}</p>")
                continue
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='{data_uri(png)}'>")
            parts.append(f"<figcaption class=note>{html.escape(caption)}</figcaption></figure>")

    for preset, rows in record["lfw"].items():
        parts.append(f"<h2>LFW, {html.escape(preset)}</h2><h3>Image quality and detection</h3>")
        parts.append(html_table(rows, quality_columns(record)))
        parts.append("<h3>Recognition</h3>" + html_table(rows, recognition_columns(record)))
        add_figures(f"lfw/{preset}")
    if record.get("real_pairs"):
        parts.append(f"<h2>{html.escape(real_pairs_heading(record))}</h2>")
        parts.append(html_table(record["real_pairs"], real_pairs_columns(record)))
        add_figures("real_pairs")
    if record["real"]:
        parts.append(f"<h2>Real low-light photos ({len(record['real_photos'])}, no reference)</h2>")
        parts.append(html_table(record["real"], real_columns(record)))
        add_figures("real")
    if record["speed"]:
        parts.append("<h2>Speed</h2>" + html_table(record["speed"], speed_columns()))
    parts.append("</body></html>")
    return "\n".join(parts)
