"""`lowface bench`: the protocol helpers with known values, and the whole run in smoke form on a handful of
LFW images, its HTML report opened in a real headless browser."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lowface.backbones.vgg import _vgg16_layers
from lowface.bench.cache import cached_row
from lowface.bench.faces import PairsSet, identification_split, paired_gain
from lowface.bench.methods import MethodSpec
from lowface.bench.plots import failure_pairs
from lowface.bench.report import markdown_table
from lowface.bench.rows import add_recovery, mean_fidelity
from lowface.bench.tables import column, table_cells
from lowface.cli import main
from samples import browser


def test_method_spec_parses_names_and_labelled_weights():
    assert MethodSpec.parse("gamma") == MethodSpec("gamma", "gamma", None)
    spec = MethodSpec.parse("mine=lowface-fast:runs/x/model.safetensors")
    assert spec == MethodSpec("mine", "lowface-fast", "runs/x/model.safetensors")
    assert str(spec) == "mine=lowface-fast:runs/x/model.safetensors"  # the cache key of earlier runs
    assert str(MethodSpec.parse("gamma")) == "gamma"


def test_identification_split_uses_the_first_image_as_gallery_and_drops_single_identities():
    keys = [("Ann", 1), ("Ann", 2), ("Ann", 5), ("Bob", 1), ("Cid", 3), ("Cid", 4)]
    gallery, probes = identification_split(keys)
    assert gallery.tolist() == [0, 4]
    assert probes.tolist() == [1, 2, 5]


def test_pairs_set_from_a_later_pair_holds_exactly_those_pairs_and_their_images(data_root: Path):
    from lowface.data.lfw import lfw_pairs

    later = PairsSet.load(data_root, 3, progress=False, start=600)
    assert later.pairs == lfw_pairs(data_root)[600:603]
    assert later.keys == sorted({p.first for p in later.pairs} | {p.second for p in later.pairs})
    first = PairsSet.load(data_root, 3, progress=False)
    assert len(later.clean) == len(later.keys) and later.tag != first.tag
    assert (first.protocol, later.protocol) == (3, "600+3")  # the enhanced-image cache tells them apart


def test_folds_are_lfws_own_when_the_pairs_span_several_else_ten_within_one():
    from lowface.data.lfw import LFWPair

    one = [LFWPair(0, ("a", 1), ("a", 2), True) for _ in range(25)]
    two = one + [LFWPair(1, ("b", 1), ("c", 1), False) for _ in range(5)]
    assert PairsSet(one, [], []).folds().tolist() == [i % 10 for i in range(25)]
    assert PairsSet(two, [], []).folds().tolist() == [0] * 25 + [1] * 5


def test_mean_fidelity_takes_uint8_or_float_and_caps_identical_images():
    grey = np.full((16, 16, 3), 0.5, np.float32)
    assert mean_fidelity([grey], [grey]) == pytest.approx({"psnr": 100.0, "ssim": 1.0})
    assert mean_fidelity([grey], [grey], max_psnr=None)["psnr"] == float("inf")
    as_uint8 = np.full((16, 16, 3), 128, np.uint8)  # 128 / 255 = 0.50196: PSNR -20 log10(0.00196) = 54.15 dB
    assert mean_fidelity([as_uint8], [grey])["psnr"] == pytest.approx(54.15, abs=0.01)


def test_cached_row_computes_once_and_reads_infinite_psnr_back(tmp_path: Path):
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"psnr": float("inf"), "ssim": 1.0}

    first = cached_row(tmp_path / "row.json", compute)
    second = cached_row(tmp_path / "row.json", compute)
    assert first == second == {"psnr": float("inf"), "ssim": 1.0}
    assert len(calls) == 1


def test_paired_gain_compares_fold_by_fold():
    dark = {"folds": [0.90, 0.95, 1.00, 0.90]}
    enhanced = {"folds": [0.95, 0.95, 0.95, 1.00]}
    gain = paired_gain(enhanced, dark)
    assert gain["mean"] == pytest.approx(0.025) and gain["std"] == pytest.approx(0.0559, abs=1e-4)
    assert (gain["better"], gain["worse"]) == (2, 1)


def rows(**accuracies: float) -> dict:
    return {m: {"psnr": 20 + a, "niqe": 10 - a, "judges": {"j": {"accuracy": a / 100, "std": 0.01}}}
            for m, a in accuracies.items()}  # fmt: skip


def test_best_cell_respects_direction_and_ignores_the_bounds():
    table = rows(clean=99, none=90, a=93, b=95)
    columns = [column("psnr", label="PSNR"), column("niqe")]
    cells = {row[0][0]: row[1:] for row in table_cells(table, columns)}
    assert cells["b"] == [("115.00", True), ("-85.00", True)]
    assert cells["a"] == [("113.00", False), ("-83.00", False)]
    assert not any(bold for _, bold in cells["clean"])  # better than b, but a bound
    lines = markdown_table(table, columns)
    assert lines[0] == "| method | PSNR ↑ | NIQE ↓ |" and "| b | **115.00** | **-85.00** |" in lines


def test_recovery_is_the_share_of_the_gap_won_back_and_absent_below_one_point():
    table = rows(clean=98, none=90, a=94, b=86)
    add_recovery(table, ["j"])
    assert table["a"]["judges"]["j"]["recovery"] == pytest.approx(0.5)
    assert table["b"]["judges"]["j"]["recovery"] == pytest.approx(-0.5)
    tiny = rows(clean=90.5, none=90, a=91)
    add_recovery(tiny, ["j"])
    assert tiny["a"]["judges"]["j"]["recovery"] is None


def test_failure_pairs_are_same_person_pairs_with_the_largest_drop():
    table = {
        "none": {"judges": {"j": {"scores": [0.8, 0.7, 0.1, 0.6]}}},
        "m": {"judges": {"j": {"scores": [0.5, 0.75, -0.5, 0.2]}}},
    }
    worst = failure_pairs(table, "m", "j", [True, True, False, True], 5)
    assert [i for i, _, _ in worst] == [3, 0]  # pair 2 is a different-person pair, pair 1 improved


@pytest.mark.slow
def test_bench_smoke_run_writes_results_and_a_report_a_browser_renders(data_root: Path, tmp_path: Path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    vgg = tmp_path / "vgg16.pth"  # random weights: only the LPIPS code path is exercised here
    torch.manual_seed(0)
    torch.save({f"features.{k}": v for k, v in _vgg16_layers().state_dict().items()}, vgg)
    arguments = [
        "bench", "--data-root", str(data_root), "-o", str(out), "--cache-dir", str(cache), "--limit", "8",
        "--presets", "linear", "--methods", "clean,none,gamma,lowface-fast", "--sample", "6", "--real-limit", "2",
        "--sice-limit", "3", "--speed-size", "64x64", "--lpips-vgg", str(vgg), "--wild-limit", "3", "-q",
    ]  # fmt: skip
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "bench.json").read_text())
    rows = record["lfw"]["linear"]
    assert list(rows) == ["clean", "none", "gamma", "lowface-fast"]
    assert rows["clean"]["judges"]["facenet"]["accuracy"] >= rows["none"]["judges"]["facenet"]["accuracy"] - 0.2
    assert rows["gamma"]["psnr"] > rows["none"]["psnr"]  # gamma brightens a linearly darkened face
    for judge in ("facenet", "dlib"):
        assert 0 <= rows["lowface-fast"]["judges"][judge]["rank1"] <= 1
        assert len(rows["lowface-fast"]["judges"][judge]["scores"]) == 8
    assert set(rows["gamma"]["detectors"]) == {"mtcnn", "hog", "blazeface"}
    assert rows["none"]["loe"] == 0  # the input against itself
    assert rows["gamma"]["lpips_vgg"] > 0 and rows["clean"]["lpips_vgg"] is None
    assert rows["gamma"]["brisque"] is not None and rows["gamma"]["kid_x1000"] is not None
    assert set(record["real"]) == {"none", "gamma", "lowface-fast"} and len(record["real_photos"]) == 2
    assert set(record["speed"]) == {"gamma", "lowface-fast"} and record["speed"]["gamma"]["peak_rss_mb"] > 0
    if (data_root / "sice").is_dir():  # real pairs: the dark frame is far from its reference, gamma closer
        pairs = record["real_pairs"]
        assert record["sice"]["split"] == "test" and record["sice"]["frames"] == 3 and set(pairs) == set(record["real"])
        assert pairs["gamma"]["psnr"] > pairs["none"]["psnr"] and pairs["none"]["ciede2000"] > 5
        assert pairs["none"]["psnr_matched"] > pairs["none"]["psnr"]  # most of the error was the exposure
        assert set(pairs["gamma"]["detectors"]["mtcnn"]) == {"found", "invented", "reference_faces"}
        assert "**Real pairs: SICE test scenes (3 under-exposed frames" in (out / "bench.md").read_text()
    for judge in ("facenet", "dlib"):  # LFW's first 8 pairs are all genuine: no false-match figure to give
        assert rows["gamma"]["judges"][judge]["far_at_clean"] is None
    if (data_root / "celeba_wild").is_dir():  # in the wild: 3 test people (too few for the figures to mean much)
        wild = record["wild"]
        assert wild["about"]["people"] == 3 and wild["about"]["gallery"] == 3 and wild["about"]["probes"] >= 6
        wild_rows = wild["presets"]["linear"]
        assert list(wild_rows) == ["clean", "none", "gamma", "lowface-fast"]
        assert all(0 <= row["judges"]["facenet"]["rank1"] <= 1 for row in wild_rows.values())
        thresholds = wild["about"]["thresholds"]["dlib"]
        assert thresholds["0.001"] >= thresholds["0.01"]  # fewer false accepts need a higher similarity
        assert {"rank1_oracle", "far_at_0.001", "tar_at_0.01", "recovery"} <= set(wild_rows["gamma"]["judges"]["dlib"])
        assert "**In the wild, linear: the 3 CelebA test people" in (out / "bench.md").read_text()
    assert record["command"].startswith("lowface bench")
    markdown = (out / "bench.md").read_text()
    assert "**LFW, linear: recognition**" in markdown and "| lowface-fast |" in markdown
    assert (out / "grid-lfw-linear.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG

    # a rerun is served from the cache: same numbers, no recomputation of rows; --public-figures shows no
    # dataset image (grids on the public-domain astronaut, failure cases as pair numbers only)
    rows_cached = sorted(p.name for p in cache.glob("row-*.json"))
    again = tmp_path / "again"
    assert CliRunner().invoke(main, [*arguments, "-o", str(again), "--public-figures"]).exit_code == 0
    assert sorted(p.name for p in cache.glob("row-*.json")) == rows_cached
    assert json.loads((again / "bench.json").read_text())["lfw"] == record["lfw"]
    assert sorted(p.name for p in again.glob("grid-*")) == ["grid-public-linear.jpg"]
    public_html = (again / "report.html").read_text()
    assert "public-domain astronaut" in public_html and "LFW faces may not be redistributed" in public_html
    assert public_html.count("<img") == 2  # the astronaut grid and the metric plot, nothing else
    assert "SICE is for research use only" in public_html or not (data_root / "sice").is_dir()

    chromium = browser()
    if chromium is None:
        pytest.skip("no chromium on this machine (apt-get install chromium): the report was not opened")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom",
         (out / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attributes = dict(re.findall(r'(data-[a-z-]+)="(\d+)"', body.group(1)))
    has_sice = (data_root / "sice").is_dir()
    assert int(attributes["data-images-total"]) >= 3 + has_sice  # grid, plot, (real-pairs grid), real-photo grid
    assert attributes["data-images-loaded"] == attributes["data-images-total"]  # every image decoded
    has_wild = (data_root / "celeba_wild").is_dir()
    assert int(attributes["data-tables"]) == 4 + has_sice + has_wild  # quality, recognition, real, speed + these


@pytest.mark.slow
def test_bench_without_lfw_records_the_empty_presets_value_in_its_command(tmp_path: Path):
    arguments = ["bench", "--data-root", str(tmp_path), "-o", str(tmp_path / "out"), "--presets", "", "--no-real",
                 "--no-sice", "--speed-size", "0x0", "--methods", "none", "--detectors", "hog", "-q"]  # fmt: skip
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert record["lfw"] == {} and record["real_pairs"] == {} and record["pairs"] == 0
    assert "--presets '' --methods none" in record["command"]  # the empty value is kept, quoted: the command reruns


def test_count_macs_counts_the_tone_head_that_plain_inference_runs_as_matrix_products():
    """The speed table's GMACs come from the graph training differentiates: the tone head's three 1x1 convolutions
    (4 -> 16 -> 16 -> 3 channels, every pixel) are counted although plain inference runs them as ``addmm``."""
    from lowface.bench.speed import count_macs
    from lowface.models.restore_net import RestoreNet

    height, width = 64, 96
    toned = count_macs(RestoreNet(tone_width=16).eval(), height, width)
    plain = count_macs(RestoreNet().eval(), height, width)
    assert toned - plain == height * width * (4 * 16 + 16 * 16 + 16 * 3)


def test_a_gated_method_runs_behind_the_exposure_gate_as_the_cli_does(tmp_path: Path):
    from lowface.bench.methods import method_images
    from lowface.data.public import public_face

    bright = public_face()[64:192, 96:224].astype(np.float32)
    dark = [bright, bright * 0.1]
    alone, _, alone_tag = method_images("gamma", "faces", None, dark, 2, tmp_path, progress=False)
    gated, _, gated_tag = method_images("gamma+gate", "faces", None, dark, 2, tmp_path, progress=False)
    assert alone_tag != gated_tag  # cached apart
    assert np.array_equal(gated[0], np.round(bright * 255).astype(np.uint8))  # well exposed: left as it was
    assert np.abs(alone[0].astype(int) - gated[0]).max() > 20  # the network alone brightens it anyway
    assert np.array_equal(gated[1], alone[1])  # dark: enhanced fully either way


def test_provenance_names_the_cpu_and_how_it_multiplies_bfloat16(tmp_path: Path) -> None:
    """Benchmark times differ between machines: every result says which CPU it ran on."""
    from lowface.bench.report import cpu_name, provenance

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n")
    assert cpu_name(cpuinfo) == "AMD EPYC 9R14 96-Core Processor"
    assert cpu_name(tmp_path / "missing") != ""
    machine = provenance(threads=2)["machine"]
    assert machine.startswith(cpu_name() + ", ") and machine.endswith(", 2 thread(s)")
    auto = r"no native bfloat16, auto = (int8|float32)|native bfloat16: (AMX|AVX-512, no AMX, auto = (int8|bfloat16))"
    assert re.search(rf"\(({auto})", machine)
