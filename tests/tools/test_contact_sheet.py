"""tools/contact_sheet.py: folders expand to their images, --per-sheet splits the rows, an unknown method is one
line."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from PIL import Image

from conftest import load_tool


def test_a_folder_of_three_photos_on_sheets_of_two_rows(tmp_path, monkeypatch):
    photos = tmp_path / "photos" / "nested"
    (tmp_path / "photos" / ".hidden").mkdir(parents=True)
    photos.mkdir(parents=True)
    for index, height in enumerate((40, 60, 80)):
        Image.fromarray(np.full((height, 80, 3), 20 * index + 10, np.uint8)).save(photos / f"{index}.png")
    Image.fromarray(np.zeros((90, 80, 3), np.uint8)).save(tmp_path / "photos" / ".hidden" / "thumb.png")
    (photos / "notes.txt").write_text("not an image")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")  # the folder given as ../photos, as ../shared/data is
    out = tmp_path / "sheets" / "real.png"
    arguments = ["-o", str(out), "--methods", "gamma", "--width", "40", "--per-sheet", "2", "--threads", "1"]
    result = CliRunner().invoke(load_tool("contact_sheet").main, [*arguments, "../photos"])
    assert result.exit_code == 0, result.output
    first, second = (np.asarray(Image.open(out.with_name(f"real-0{i}.png"))) for i in (1, 2))
    assert first.shape == (20 + 30, 80, 3) and second.shape == (40, 80, 3)  # rows 40 px wide: input, gamma
    assert not out.exists() and not out.with_name("real-03.png").exists()  # the hidden photo left out
    assert (second[:, 40:].astype(int) - second[:, :40]).mean() > 5  # gamma brightened the dark photo


def test_an_unknown_method_is_a_usage_error_naming_it(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    result = CliRunner().invoke(load_tool("contact_sheet").main, ["-o", str(tmp_path / "s.png"), "--methods", "none",
                                                   str(tmp_path / "a.png")])  # fmt: skip
    assert result.exit_code == 2
    assert "unknown model 'none'" in result.output and "Traceback" not in result.output
