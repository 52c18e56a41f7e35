"""End-to-end CLI: folders (recursive, tree kept), resume, failures reported, inputs never overwritten, video."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import assert_close, smooth_test_image
from lowface.cli import main
from lowface.io import ImageData, read_image, write_image

pytestmark = pytest.mark.slow  # processes, a browser, a Ray cluster or the docs build


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    write_image(root / "a.png", ImageData(smooth_test_image() * 0.3))
    write_image(root / "sub" / "deeper" / "b.jpg", ImageData(smooth_test_image(seed=2) * 0.2))
    (root / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "notes.txt").write_text("not an image, not picked up")
    return root


def test_help_everywhere():
    for command in ([], ["enhance"], ["models"], ["train"], ["export"], ["demo"]):
        result = run_cli(*command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output
    installed = subprocess.run([sys.executable, "-m", "lowface.cli", "--help"], capture_output=True, text=True)
    assert installed.returncode == 0 and "enhance" in installed.stdout


def test_folder_enhanced_recursively_failure_reported_and_batch_continues(tree: Path, tmp_path: Path):
    out = tmp_path / "out"
    before = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    result = run_cli("enhance", str(tree), "-o", str(out), "--model", "gamma", "-q")
    assert result.exit_code == 1
    assert (out / "a.png").is_file() and (out / "sub" / "deeper" / "b.jpg").is_file()
    assert not (out / "sub" / "broken.png").exists()
    assert "broken.png" in result.output and "1 failed" in result.output
    assert "not read: 1 other file(s) in the input folders (1 .txt)" in result.output  # what the run left out
    rerun = run_cli("enhance", str(tree), "-o", str(out), "--model", "gamma", "-q", "--json")
    assert json.loads(rerun.stdout)["not_read"] == {".txt": 1}
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == before  # inputs untouched
    assert not list(out.rglob("*.part"))  # no temporary files left behind
    enhanced = read_image(out / "a.png").rgb
    assert_close(enhanced, (np.round(smooth_test_image() * 0.3 * 255) / 255) ** (1 / 2.2), atol=1 / 255, rtol=1e-5)


def test_rerun_skips_existing_outputs_and_overwrite_redoes_them(tree: Path, tmp_path: Path):
    out = tmp_path / "out"
    run_cli("enhance", str(tree), "-o", str(out), "--model", "gamma", "-q")
    result = run_cli("enhance", str(tree), "-o", str(out), "--model", "gamma", "-q")
    assert "0 enhanced, 2 skipped" in result.output
    marker = out / "a.png"
    marker.write_bytes(b"changed since: not the file its record describes")
    result = run_cli("enhance", str(tree), "-o", str(out), "--model", "gamma", "-q")
    assert "1 enhanced, 1 skipped" in result.output and read_image(marker).size == (48, 64)
    result = run_cli("enhance", str(tree), "-o", str(out), "--model", "gamma", "-q", "--overwrite")
    assert "2 enhanced" in result.output


def test_output_equal_to_input_is_refused(tree: Path):
    result = run_cli("enhance", str(tree / "a.png"), "-o", str(tree / "a.png"), "--model", "gamma")
    assert result.exit_code != 0 and "overwrite an input" in result.output


def test_a_link_in_the_output_tree_cannot_send_outputs_elsewhere(tree: Path, tmp_path: Path):
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"
    elsewhere.mkdir()
    out.mkdir()
    subfolder = next(p for p in tree.iterdir() if p.is_dir())
    (out / subfolder.name).symlink_to(elsewhere, target_is_directory=True)
    result = CliRunner().invoke(main, ["enhance", str(tree), "-o", str(out), "-m", "gamma", "-q"])
    assert result.exit_code != 0 and "outside the output folder" in result.output
    assert not any(elsewhere.iterdir())


def test_single_file_to_explicit_path_and_format(tree: Path, tmp_path: Path):
    result = run_cli("enhance", str(tree / "a.png"), "-o", str(tmp_path / "x" / "result.tif"), "--model", "gamma")
    assert result.exit_code == 0 and (tmp_path / "x" / "result.tif").is_file()
    result = run_cli("enhance", str(tree / "sub"), "-o", str(tmp_path / "y"), "--model", "gamma", "--format", "png")
    assert (tmp_path / "y" / "deeper" / "b.png").is_file()


def test_precision_float32_is_the_float32_enhancers_output_bfloat16_differs_bogus_refused(tree: Path, tmp_path: Path):
    import torch

    from lowface.inference.enhancer import Enhancer
    from lowface.models.precision import bfloat16_runs

    out = tmp_path / "a.png"
    result = run_cli("enhance", str(tree / "a.png"), "-o", str(out), "-m", "lowface-restore-real", "--no-gate",
                     "--precision", "float32")  # fmt: skip
    assert result.exit_code == 0
    expected = Enhancer.from_pretrained("lowface-restore-real", device="cpu", gate=False, precision="float32")
    want = np.round(expected.enhance(read_image(tree / "a.png")).rgb * 255)
    assert np.array_equal(np.round(read_image(out).rgb * 255), want)
    result = run_cli("enhance", str(tree / "a.png"), "-o", str(tmp_path / "b.png"), "-m", "lowface-restore-real",
                     "--no-gate", "--precision", "bfloat16")  # fmt: skip
    if bfloat16_runs(torch.device("cpu")):
        assert result.exit_code == 0 and not np.array_equal(np.round(read_image(tmp_path / "b.png").rgb * 255), want)
    else:  # an AVX2-only CPU: refused by name, nothing written
        assert result.exit_code != 0 and "cannot run bfloat16 convolutions" in result.output
        assert not (tmp_path / "b.png").exists()
    result = run_cli("enhance", str(tree / "a.png"), "-o", str(tmp_path / "c.png"), "--precision", "fp8")
    assert result.exit_code != 0 and "'fp8' is not one of 'auto', 'float32', 'bfloat16'" in result.output


def test_unknown_model_and_missing_input_give_clear_errors(tree: Path, tmp_path: Path):
    result = run_cli("enhance", str(tree), "-o", str(tmp_path / "o"), "--model", "nope")
    assert result.exit_code != 0 and "unknown model 'nope'" in result.output
    result = run_cli("enhance", str(tmp_path / "missing"), "-o", str(tmp_path / "o"))
    assert result.exit_code != 0 and "no such file or folder" in result.output


def test_video_is_enhanced_frame_by_frame(tmp_path: Path):
    source = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(6):
        frame = (smooth_test_image(seed=i) * 60).astype(np.uint8)
        writer.write(frame[..., ::-1].copy())
    writer.release()
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "out"), "--model", "gamma", "-q")
    assert result.exit_code == 0, result.output
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip.avi"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert np.mean(frames[0]) > 1.5 * np.mean(smooth_test_image(seed=0) * 60)  # brighter than the input


@pytest.mark.parametrize(("chosen", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_enhance_lets_openmp_threads_sleep_unless_the_user_chose(tmp_path: Path, chosen, expected):
    """Set before torch loads (the command line loads it only inside a command, tested in test_architecture)."""
    write_image(tmp_path / "dark.png", ImageData(smooth_test_image() * 0.2))
    command = ["enhance", str(tmp_path / "dark.png"), "-o", str(tmp_path / "out.png"), "-m", "gamma", "-q"]
    code = (f"import os, sys\nfrom lowface.cli import main\ntry:\n    main({command!r})\nfinally:\n"
            "    print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env |= {"OMP_WAIT_POLICY": chosen} if chosen else {}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split("\n")[-2] == f"{expected} True"


def test_models_lists_baselines_with_licences():
    result = run_cli("models", "-v")
    assert result.exit_code == 0
    for name in ("identity", "gamma", "he", "clahe", "lime"):
        assert name in result.output
    assert "licence" in result.output


def test_models_lists_every_enhancer_on_one_line_and_tells_its_whole_story_with_verbose():
    """Every enhancer gets one readable line (a summary: the descriptions carry every version's change, up to 7,000
    characters); -v adds the full description, wrapped."""
    from lowface.inference.catalogue import list_models, model_card

    short, full = run_cli("models").output.splitlines(), run_cli("models", "-v").output
    for name in list_models():
        card = model_card(name)
        [line] = [line for line in short if line.split()[:1] == [name]]
        assert line.endswith(card.headline) and len(card.headline) <= 120, (name, card.headline)
        assert " ".join(card.description.split()[-6:]) in " ".join(full.split())
    assert len(model_card("lowface-restore-real").description) > 2000 and max(map(len, short)) < 160
    int8 = model_card("lowface-restore-real").int8
    assert f"int8 file {int8['file']}  sha256 {int8['sha256']}" in full and int8["command"] in full


def test_kill_9_during_a_folder_then_rerun_completes_it_exactly(tmp_path: Path):
    """Killed mid-batch: every output present is complete; the rerun adds exactly the missing ones."""
    source = tmp_path / "many"
    for i in range(40):
        write_image(source / f"{i:02d}.png", ImageData(smooth_test_image(96, 128, seed=i) * 0.25))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lowface.cli", "enhance", str(source), "-o", str(out), "-m", "lime", "-q"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 5:
        time.sleep(0.05)
    process.kill()  # SIGKILL: no cleanup of any kind
    process.wait()
    done_before = sorted(p.name for p in out.glob("*.png"))
    assert 5 <= len(done_before) < 40, "the kill should land mid-batch"
    for path in out.glob("*.png"):
        read_image(path)  # complete files only: a truncated one would raise
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{40 - len(done_before)} enhanced, {len(done_before)} skipped" in rerun.stderr
    names = sorted(p.name for p in out.iterdir())
    assert [n for n in names if not n.startswith(".")] == [f"{i:02d}.png" for i in range(40)]
    assert [n for n in names if n.startswith(".")] == [f".{i:02d}.png.lowface.json" for i in range(40)]  # no .part
