"""The benchmark's tables: which figures each table shows (columns named after registered metrics, so whether
higher is better comes from :mod:`lowface.metrics.catalogue`) and the best value of each column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lowface.bench.methods import BOUNDS
from lowface.metrics.catalogue import Metric, create_metric


@dataclass(frozen=True)
class Column:
    """A table column: its header, how to read its value from a method's row, and the metric it shows."""

    header: str
    value: Callable[[dict], float | None]
    metric: Metric

    @property
    def higher_is_better(self) -> bool:
        return self.metric.higher_is_better

    @property
    def titled(self) -> str:
        """The header with the metric's direction: "PSNR dB ↑"."""
        return f"{self.header} {self.metric.arrow}"


def _get(*keys: str) -> Callable[[dict], float | None]:
    def value(row: dict) -> float | None:
        for key in keys:
            if row is None or key not in row:
                return None
            row = row[key]
        return row

    return value


def column(metric: str, *path: str, prefix: str = "", label: str | None = None) -> Column:
    """The column of registered ``metric``, read from ``row[path[0]][path[1]]...`` (default: ``row[metric]``);
    header ``prefix + label`` (default label: the metric's)."""
    entry = create_metric(metric)
    return Column(prefix + (label or entry.label), _get(*(path or (metric,))), entry)


def quality_columns(record: dict) -> list[Column]:
    """Table II style: fidelity against clean (synthetic only), no-reference quality, detection, speed."""
    columns = [column(name) for name in ("psnr", "ssim", "niqe", "brisque", "loe", "feature_distance", "kid_x1000")]
    if record["config"].get("lpips_vgg"):
        columns.append(column("lpips_vgg"))
    for name in record["config"]["detectors"]:
        columns.append(column("detection_rate", "detectors", name, "detection_rate", prefix=f"{name} "))
        columns.append(column("landmark_success", "detectors", name, "landmark_success", prefix=f"{name} "))
    return columns


def recognition_columns(record: dict) -> list[Column]:
    """Table IV style, per judge: verification accuracy, TAR@FAR=1e-3, rank-1, recovery, and the false-accept
    rate at the threshold that gives FAR 1e-2 on the clean impostor pairs."""
    return [
        column(metric, "judges", judge, metric, prefix=f"{judge} ")
        for judge in record["config"]["judges"]
        for metric in ("accuracy", "tar_at_far_1e-3", "rank1", "recovery", "far_at_clean")
    ]


def wild_columns(record: dict) -> list[Column]:
    """In the wild, per judge: end-to-end rank-1, recovery, oracle rank-1, FAR / TAR at the thresholds that
    give FAR 1e-3 (and 1e-2) on clean impostor pairs, and the false accepts at 1e-3 that the clean photo did not
    make (:func:`lowface.bench.wild.score_probes`)."""
    metrics = ("rank1", "recovery", "rank1_oracle", "far_at_0.001", "new_far_at_0.001", "tar_at_0.001", "far_at_0.01")
    return [
        column(metric, "judges", judge, metric, prefix=f"{judge} ")
        for judge in record["config"]["judges"]
        for metric in metrics
    ]


def wild_heading(record: dict, preset: str) -> str:
    about = record["wild"]["about"]
    return (
        f"In the wild, {preset}: the {about['people']} CelebA test people ({about['gallery']} clean gallery photos, "
        f"{about['probes']} probes; end to end, a face the judge's detector misses is a miss)"
    )


def real_columns(record: dict) -> list[Column]:
    columns = [column("niqe"), column("brisque"), column("loe")]
    return columns + [column("faces", "detectors", name, "faces", prefix=f"{name} ")
                      for name in record["config"]["detectors"]]  # fmt: skip


def real_pairs_columns(record: dict) -> list[Column]:
    """Real pairs: fidelity to the scene's reference, raw and brightness-matched; faces found and invented."""
    columns = []
    for suffix, note in (("", ""), ("_matched", " matched")):
        columns += [
            column("psnr", "psnr" + suffix, label=f"PSNR{note} dB"),
            column("ssim", "ssim" + suffix, label=f"SSIM{note}"),
            column("ciede2000", "ciede2000" + suffix, label=f"ΔE00{note}"),
        ]
    for name in record["config"]["detectors"]:
        columns.append(column("found", "detectors", name, "found", prefix=f"{name} "))
        columns.append(column("invented", "detectors", name, "invented", prefix=f"{name} "))
    return columns


def real_pairs_heading(record: dict) -> str:
    sice = record["sice"]
    return (
        f"Real pairs: SICE {sice['split']} scenes ({sice['frames']} under-exposed frames of {sice['scenes']} scenes "
        "against each scene's reference frame; matched = output scaled to the reference's mean luma)"
    )


def speed_columns() -> list[Column]:
    return [column("ms_per_megapixel"), column("peak_rss_mb")]


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
            text = column.metric.format(value)
            if column.metric.name == "accuracy" and value is not None:
                text += " ± " + column.metric.format(_get("judges", column.header.split()[0], "std")(row))
            cells.append((text, method not in BOUNDS and value is not None and value == best[column.header]))
        table.append(cells)
    return table
