"""benchmarks/detail_feature.py: rules for lowface-auto's detail share scored on saved per-image fidelity grids."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from conftest import load_tool


def grids(path, rng) -> None:
    """Real-capture sets whose fidelity rises with the detail share alone (+1 at share 1), face sets indifferent."""
    shares = np.linspace(0, 1, 6)
    data = {}
    for name, count in (("sice-train", 6), ("sice-val", 4), ("celeba-val-real-mix", 4), ("lfw-linear-wide", 4)):
        curve = np.full((count, 6, 6, 4), 20.0)
        if name.startswith("sice"):
            curve += shares[None, None, :, None]
        data[f"{name}:p"] = rng.uniform(0.3, 0.9, count)
        data[f"{name}:features"] = rng.normal(size=(count, 3))
        data[f"{name}:curve"] = curve
    np.savez(path, **data)


def test_band_shares_and_the_hard_choice_scores_nothing(tmp_path):
    script = load_tool("detail_feature", "benchmarks")
    assert np.allclose(script.band_share(np.array([0.1, 0.3, 0.5, 0.9]), (0.2, 0.6)), [0, 0.25, 0.75, 1])
    grids(tmp_path / "g.npz", np.random.default_rng(0))
    g = script.Grids(tmp_path / "g.npz")
    hard = {n: ((g.probability(n) > 0.5) * 1.0,) * 2 for n in g.sets}
    row = script.score(g, hard, tolerance=0.05)
    assert row["sice_train"] == [0.0] * 4 and row["admissible"] and row["score"] == 0.0


def test_the_best_rule_gives_the_real_captures_the_whole_detail(tmp_path):
    script = load_tool("detail_feature", "benchmarks")
    grids(tmp_path / "g.npz", np.random.default_rng(1))
    out = tmp_path / "detail.json"
    result = CliRunner().invoke(script.main, [str(tmp_path / "g.npz"), "--step", "0.25", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    g = script.Grids(tmp_path / "g.npz")
    hard = (g.probability("sice-train") > 0.5).mean()
    # the most any rule can gain on SICE train: every frame's detail share 1 (+1 dB and +100 SSIM points where
    # the hard choice gave 0, from share 0 to 1 on each figure): the band (0, 0.25) reaches it, every p is above 0.3
    best = record["best"]["probability"]
    assert np.isclose(best["score"], (1 - hard) * (2 + 200), atol=1e-2)
    assert record["restore_alone"]["sice-val"] == [21.0] * 4
    assert record["admissible_pairs_reaching_restore_alone"]["sice-train"] > 0
