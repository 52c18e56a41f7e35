"""benchmarks/invented_faces.py: a face the reference frame also shows is not invented, every other one is listed
with its box, score, width and level, and the contact sheet holds three tiles for each."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from conftest import load_tool
from lowface.bench.real_pairs import RealPairsSet
from lowface.face.mtcnn import Detection


def face(x1: float, y1: float, x2: float, y2: float, score: float = 0.9) -> Detection:
    return Detection(np.array([x1, y1, x2, y2], np.float32), np.zeros((5, 2), np.float32), score)


class BrightnessDetector:
    """A face at (10, 10, 30, 30) on every image, and one at (40, 40, 60, 60) on images brighter than 0.3."""

    def detect(self, image):
        return [face(10, 10, 30, 30)] + ([face(40.4, 40, 60, 60, 0.75)] if float(image.mean()) > 0.3 else [])


class Doubler:
    def enhance(self, image):
        return np.clip(image * 3, 0, 1)


def test_only_faces_the_reference_does_not_show_are_listed(tmp_path, monkeypatch):
    script = load_tool("invented_faces", "benchmarks")
    dark = [np.full((80, 80, 3), 0.2, np.float32), np.full((80, 80, 3), 0.05, np.float32)]
    references = [np.full((80, 80, 3), 40, np.uint8)] * 2  # shows only the first face
    pairs = RealPairsSet("val", ["a.jpg->r.jpg", "b.jpg->r.jpg"], dark, references)
    monkeypatch.setattr(script.RealPairsSet, "load", lambda *args, **kwargs: pairs)
    monkeypatch.setattr(script, "create_detector", lambda name: BrightnessDetector())
    monkeypatch.setattr(script, "pretrained", lambda name, weights=None: Doubler())
    out, sheet = tmp_path / "faces.json", tmp_path / "sheet.png"
    result = CliRunner().invoke(script.main, ["--out", str(out), "--sheet", str(sheet), "gamma"])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["invented"] == {"gamma": 1} and record["frames"] == 2  # the second frame stays dark: 0.15
    (listed,) = record["faces"]
    assert listed["frame"] == "a.jpg->r.jpg" and listed["box"] == [40, 40, 60, 60] and listed["width"] == 20
    assert listed["score"] == 0.75 and listed["mean_level"] == round(153 / 255, 3)  # 0.2 x 3, as saved
    assert Image.open(sheet).size == (3 * (script.TILE + 2), script.TILE + 2)
    assert "1 invented mtcnn faces on 2 frames" in result.output


class Untouched:
    def enhance(self, image):
        return image


def test_on_real_photos_the_against_methods_output_stands_in_for_the_reference(tmp_path, monkeypatch):
    """--split real: a face is listed when the --against output (here the untouched photo) does not show it."""
    script = load_tool("invented_faces", "benchmarks")
    folder = tmp_path / "lowlight_real" / "set"
    folder.mkdir(parents=True)
    Image.fromarray(np.full((80, 80, 3), 51, np.uint8)).save(folder / "dim.png")  # 0.2: x3 shows the second face
    Image.fromarray(np.full((80, 80, 3), 10, np.uint8)).save(folder / "dark.png")  # x3 stays below 0.3
    monkeypatch.setattr(script, "create_detector", lambda name: BrightnessDetector())
    monkeypatch.setattr(script, "pretrained", lambda name, weights=None: Doubler() if name == "gamma" else Untouched())
    out = tmp_path / "faces.json"
    args = ["--split", "real", "--against", "identity", "--data-root", str(tmp_path), "--out", str(out), "gamma"]
    result = CliRunner().invoke(script.main, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["against"] == "identity" and record["frames"] == 2 and record["invented"] == {"gamma": 1}
    assert [face["frame"] for face in record["faces"]] == ["set/dim.png"]
