"""Would the detail share of ``lowface-auto`` do better following the measured noise than the router's probability?

Reads the per-image fidelity grids that ``benchmarks/soft_routing.py --save-curves`` keeps (each image's mix fast +
t tone(restore - fast) + d detail(restore - fast) measured at t, d = 0, 0.2, .., 1, its router probability p and its
router features) and scores, with the soft routing's rule (the largest SICE train gain over the hard choice, PSNR +
100 SSIM raw and matched, among candidates that lose no more than ``--tolerance`` on the LFW presets' mean or on
CelebA val):

- ``probability``: the detail share ramping over a band of p, as shipped (the tone: a band of p too);
- ``noise-k``: the detail share ramping over a band of the score log_noise - k log_mean (k = 0: the absolute noise
  estimate, k = 1: the noise relative to the mean brightness, what brightening multiplies), band ends at every 5th
  percentile of the score over all sets.

It also answers whether any admissible pair of p bands reaches the restoring network's own raw SSIM on SICE (the one
figure where the default trails it). SICE val is reported, never chosen on; SICE test is not read.

    python benchmarks/detail_feature.py benchmarks/results/split_routing/curves.npz \
        --out benchmarks/results/split_routing/detail_feature.json
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import click
import numpy as np

from lowface.bench.report import provenance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soft_routing import SCALE, at_shares, band_share

SHIPPED = ((0.25, 0.75), (0.0, 0.55))  # lowface-auto's tone and detail bands
TONE_BANDS = ((0.25, 0.75), (0.2, 0.8), (0.3, 0.7), (0.25, 0.7), (0.35, 0.75))  # around the shipped tone band
NOISE_WEIGHTS = (0.0, 0.5, 1.0)  # k in log_noise - k log_mean


class Grids:
    """The saved grids: ``probability(set)``, ``features(set)`` (N, 3), ``curve(set)`` (N, 6, 6, 4)."""

    def __init__(self, path: Path):
        data = np.load(path)
        self.data = {key: data[key] for key in data.files}
        self.sets = sorted({key.split(":")[0] for key in self.data})
        self.lfw = [name for name in self.sets if name.startswith("lfw-")]
        self.hard = {}  # each set's fidelity under the hard choice, what every rule is compared with
        for name in self.sets:
            hard = band_share(self.probability(name), None)
            self.hard[name] = self.fidelity(name, hard, hard)

    def probability(self, name: str) -> np.ndarray:
        return self.data[f"{name}:p"]

    def noise_score(self, name: str, weight: float) -> np.ndarray:
        features = self.data[f"{name}:features"]
        return features[:, 0] - weight * features[:, 1]

    def fidelity(self, name: str, tone: np.ndarray, detail: np.ndarray) -> np.ndarray:
        return at_shares(self.data[f"{name}:curve"], tone, detail)


def score(grids: Grids, shares: dict[str, tuple[np.ndarray, np.ndarray]], tolerance: float) -> dict:
    """Gains over the hard choice of each set's (tone, detail) ``shares`` (N,) each, and the rule's verdict."""
    gains = {name: (grids.fidelity(name, *pair) - grids.hard[name]) * SCALE for name, pair in shares.items()}
    lfw = np.mean([gains[name] for name in grids.lfw], 0)
    return {
        "sice_train": gains["sice-train"].round(3).tolist(), "lfw_fit_presets": lfw.round(3).tolist(),
        "celeba_val": gains["celeba-val-real-mix"].round(3).tolist(), "sice_val": gains["sice-val"].round(3).tolist(),
        "admissible": bool(min(lfw.min(), gains["celeba-val-real-mix"].min()) >= -tolerance),
        "score": round(float(gains["sice-train"].sum()), 3),
    }  # fmt: skip


@click.command()
@click.argument("curves", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tolerance", default=0.05, show_default=True, help="largest loss allowed on LFW / CelebA (dB, SSIM %)")
@click.option("--step", default=0.05, show_default=True, help="step between the probability bands' ends")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(curves: Path, tolerance: float, step: float, out: Path) -> None:
    grids = Grids(curves)
    candidates = []
    ends = np.arange(0, 1 + step / 2, step)
    p_bands = [(round(float(low), 2), round(float(high), 2)) for low, high in itertools.combinations(ends, 2)]
    scores = {f"noise-{w:g}": {name: grids.noise_score(name, w) for name in grids.sets} for w in NOISE_WEIGHTS}
    detail_bands = [("probability", band) for band in sorted({*p_bands, SHIPPED[1]})]
    for kind, values in scores.items():
        ends = np.percentile(np.concatenate(list(values.values())), np.arange(0, 101, 5))
        detail_bands += [(kind, (round(float(low), 3), round(float(high), 3)))
                         for low, high in itertools.combinations(ends, 2)]  # fmt: skip
    for tone_band, (kind, band) in itertools.product(TONE_BANDS, detail_bands):
        shares = {}
        for name in grids.sets:
            by = grids.probability(name) if kind == "probability" else scores[kind][name]
            shares[name] = (band_share(grids.probability(name), tone_band), band_share(by, band))
        candidates.append({"tone_band": tone_band, "detail_by": kind, "detail_band": band,
                           **score(grids, shares, tolerance)})  # fmt: skip
    admissible = sorted((c for c in candidates if c["admissible"]), key=lambda c: -c["score"])
    best = {kind: next((c for c in admissible if c["detail_by"] == kind), None)
            for kind in ["probability", *(f"noise-{w:g}" for w in NOISE_WEIGHTS)]}  # fmt: skip
    shipped = next(c for c in candidates if c["detail_by"] == "probability"
                   and (c["tone_band"], c["detail_band"]) == SHIPPED)  # fmt: skip

    # can any admissible pair of probability bands reach the restoring network's own raw SSIM on SICE?
    restore_alone, dominating = {}, {}
    for name in ("sice-train", "sice-val"):
        ones = np.ones(len(grids.probability(name)))
        restore_alone[name] = grids.fidelity(name, ones, ones).round(4).tolist()
        dominating[name] = 0
    for tone_band, detail_band in itertools.product(p_bands, p_bands):
        shares = {}
        for name in grids.sets:
            probability = grids.probability(name)
            shares[name] = (band_share(probability, tone_band), band_share(probability, detail_band))
        if not score(grids, shares, tolerance)["admissible"]:
            continue
        for name in dominating:
            dominating[name] += bool(np.all(grids.fidelity(name, *shares[name]) >= restore_alone[name]))

    record = {**provenance(1), "curves": str(curves), "tolerance": tolerance, "shipped": shipped, "best": best,
              "restore_alone": restore_alone, "admissible_pairs_reaching_restore_alone": dominating,
              "best_admissible": admissible[:30]}  # fmt: skip
    for label, row in [("shipped", shipped), *best.items()]:
        click.echo(f"{label:12s} {row['tone_band']} {row['detail_by']} {row['detail_band']} score {row['score']} "
                   f"sice val {row['sice_val']} lfw {row['lfw_fit_presets']} celeba {row['celeba_val']}")  # fmt: skip
    click.echo(f"admissible probability-band pairs at or above the restoring network's own figures: {dominating}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
