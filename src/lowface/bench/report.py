"""The benchmark's outputs: provenance, markdown tables (Table II / IV style, best in bold), a self-contained HTML
report (tables, image grids, metric plots, failure cases; every image inlined as a data URI) and the files
``lowface bench`` writes."""

from __future__ import annotations

import html
import json
import os
import platform
import sys
from datetime import date
from pathlib import Path

from lowface.bench.plots import data_uri, image_suffix
from lowface.bench.tables import (
    Column,
    quality_columns,
    real_columns,
    real_pairs_columns,
    real_pairs_heading,
    recognition_columns,
    speed_columns,
    table_cells,
    wild_columns,
    wild_heading,
)
from lowface.io import atomic_write_bytes


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name as the system gives it ("Intel(R) Xeon(R) Platinum 8480+", "AMD EPYC"), or "unknown CPU":
    the machines these benchmarks run on differ between days, and their times with them."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def provenance(threads: int | None = None) -> dict[str, str]:
    """The exact command line, today's date and a description of this machine (with whether its CPU multiplies
    bfloat16 natively, else whether ``auto`` runs int8: the precision it picks for the restoring networks,
    :mod:`lowface.models.precision`)."""
    import torch

    from lowface.models.precision import amx_bfloat16, cpu_isa_cap, int8_by_default, native_bfloat16

    cpu = torch.device("cpu")
    if not native_bfloat16(cpu):
        bfloat16 = "no native bfloat16, auto = " + ("int8" if int8_by_default(cpu) else "float32")
    else:  # AMX multiplies bfloat16 matrices about 2.5x faster than AVX-512's dot products (the restoring networks)
        auto = "int8" if int8_by_default(cpu) else "bfloat16"
        bfloat16 = "native bfloat16: " + ("AMX" if amx_bfloat16(cpu) else f"AVX-512, no AMX, auto = {auto}")
    if cpu_isa_cap() is not None:  # a newer CPU made to behave as an older one
        kernels = torch.backends.cpu.get_cpu_capability()
        bfloat16 += f"; oneDNN capped at {cpu_isa_cap()}, PyTorch's kernels at {kernels}"
    machine = (f"{cpu_name()}, {platform.machine()}, {os.cpu_count()} cores ({bfloat16}), "
               f"Python {platform.python_version()}")  # fmt: skip
    script = sys.argv[0]
    program = ["python", script] if script.endswith(".py") else [Path(script).name]  # a script or `lowface`
    return {
        "command": " ".join([*program, *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": machine + (f", {threads} thread(s)" if threads else ""),
    }


def markdown_table(rows: dict[str, dict], columns: list[Column]) -> list[str]:
    lines = ["| method | " + " | ".join(c.titled for c in columns) + " |", "|---" * (1 + len(columns)) + "|"]
    for cells in table_cells(rows, columns):
        lines.append("| " + " | ".join(f"**{t}**" if bold else t for t, bold in cells) + " |")
    return lines


def _speed_note(config: dict, per_process: bool = False) -> str:
    height, width = config["speed_size"]
    if not height * width:
        return "Speed: not measured in this run. "
    where = ", each method in its own process" if per_process else ""
    return f"Speed: one {height}x{width} image, {config['threads']} thread(s){where}. "


def summary(record: dict, command: str, date: str, machine: str) -> str:
    c = record["config"]
    if not record["lfw"]:
        return (
            "`lowface bench` on real images: NIQE (MATLAB algorithm, official pristine model), BRISQUE (brisque 0.2.0 "
            "model), LOE (against the method's input) and face detections on the real low-light photos; PSNR, SSIM "
            "(RGB, 11x11 Gaussian window) and CIEDE2000 of SICE's real under-exposed frames against their scene's "
            "reference, raw and brightness-matched, and faces found / invented per detector. "
            f"{_speed_note(c)}Command: `{command}`, {date}, {machine}."
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
        f"recovery = share of the dark-to-clean accuracy gap won back, FAR@clean 1e-2 = false accepts among the "
        f"impostor pairs at the similarity that accepts 1 % of the clean impostor pairs (enhancement that makes "
        f"different people look alike raises it). In the wild: the CelebA test people, identification end to end "
        f"and with the clean photo's alignment (oracle), FAR / TAR at clean-impostor thresholds. "
        f"{_speed_note(c, per_process=True)}Command: `{command}`, {date}, {machine}."
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
    for preset, rows in (record.get("wild") or {}).get("presets", {}).items():
        lines += ["", f"**{wild_heading(record, preset)}**", "", *markdown_table(rows, wild_columns(record))]
    if record.get("real_pairs"):
        table = markdown_table(record["real_pairs"], real_pairs_columns(record))
        lines += ["", f"**{real_pairs_heading(record)}**", "", *table]
    if record["real"]:
        lines += ["", f"**Real low-light photos ({len(record['real_photos'])}, no reference)**: faces = detections", ""]
        lines += markdown_table(record["real"], real_columns(record))
    if record["speed"]:
        lines += ["", "**Speed**", "", *markdown_table(record["speed"], speed_columns())]
    return lines


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
    arrows = "".join(f"<th>{html.escape(c.titled)}</th>" for c in columns)
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
    for preset, rows in (record.get("wild") or {}).get("presets", {}).items():
        parts.append(f"<h2>{html.escape(wild_heading(record, preset))}</h2>" + html_table(rows, wild_columns(record)))
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


def write_outputs(output: Path, record: dict, about: dict, figures: dict[str, list[tuple[str, bytes]]],
                  public: bool = False) -> None:  # fmt: skip
    """``output``/bench.json, bench.md, report.html and one grid image per figure section (atomically)."""
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(output / "bench.json", json.dumps(record, indent=1).encode())
    atomic_write_bytes(output / "bench.md", ("\n".join(markdown_report(record, about)) + "\n").encode())
    atomic_write_bytes(output / "report.html", html_report(record, about, figures).encode())
    for section, items in figures.items():
        if items and items[0][1]:
            stem = f"public-{section.removeprefix('lfw/')}" if public else section.replace("/", "-")
            atomic_write_bytes(output / f"grid-{stem}.{image_suffix(items[0][1])}", items[0][1])
