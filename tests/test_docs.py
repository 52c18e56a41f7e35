"""The documentation: the site builds offline with warnings as errors, and every shell and Python snippet of the
README and the getting-started page runs (unless marked ``<!-- illustrative: reason -->``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import smooth_test_image
from lowface.io import ImageData, write_image
from samples import make_clip, write_dng

pytestmark = pytest.mark.slow  # processes, a browser, a Ray cluster or the docs build

ROOT = Path(__file__).resolve().parents[1]
SNIPPET_PAGES = [ROOT / "README.md", ROOT / "docs" / "getting-started.md"]
FENCE = re.compile(r"(?:<!--(?P<note>[^>]*)-->\s*\n)?```(?P<lang>bash|python)\n(?P<code>.*?)\n```", re.S)


def snippets(page: Path) -> list[tuple[str, str, str | None]]:
    """(language, code, reason it is illustrative or None) for each bash / python block of a page."""
    found = []
    for match in FENCE.finditer(page.read_text()):
        note = (match.group("note") or "").strip()
        reason = note.removeprefix("illustrative:").strip() if note.startswith("illustrative:") else None
        assert reason != "", f"{page.name}: an illustrative block needs a reason"
        found.append((match.group("lang"), match.group("code"), reason))
    return found


def test_the_documentation_builds_offline_with_warnings_as_errors(tmp_path: Path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (make install)")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert "WARNING" not in built.stderr
    site = tmp_path / "site"
    cli, api = (site / "cli" / "index.html").read_text(), (site / "api" / "index.html").read_text()
    assert "--segment-frames" in cli and "--originals" in cli and "--temporal-denoise" in cli  # enhance, score
    assert "recipe_for" in api and "encode_segment" in api
    for page in site.rglob("*.html"):  # nothing fetched from elsewhere: fonts, scripts and styles are local
        text = page.read_text()
        assert not re.search(r'<(?:script|link|img)[^>]+(?:src|href)="https?://', text), page


def test_every_page_of_the_docs_is_in_the_navigation():
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python", ""))["nav"]
    listed = {next(iter(entry.values())) for entry in nav}
    assert listed == {p.name for p in (ROOT / "docs").glob("*.md")}


def sandbox(folder: Path) -> Path:
    """A folder holding every file the snippets name, and the project's .venv."""
    dark = lambda seed=0: ImageData(smooth_test_image(96, 128, seed=seed) * 0.2)  # noqa: E731
    write_image(folder / "photo.jpg", dark())
    for name in ("night_photos/a.jpg", "night_photos/sub/b.png", "night/1.jpg", "night/2.png", "archive/x.jpg",
                 "photos/photo.jpg", "a/img.jpg", "b/img.jpg", "references/1.jpg", "references/2.png"):  # fmt: skip
        write_image(folder / name, dark(len(name)) if not name.startswith("references") else ImageData(
            smooth_test_image(96, 128, seed=len(name))))  # fmt: skip
    write_image(folder / "big.tif", ImageData(smooth_test_image(600, 700) * 0.2, bit_depth=16))
    Image.fromarray((smooth_test_image(96, 128) * 40).astype(np.uint8)).save(folder / "IMG_0042.heic", format="HEIF")
    write_dng(folder / "DSC_0001.dng")
    make_clip(folder / "clip.mp4", frames=8)
    shutil.copy(folder / "clip.mp4", folder / "night.mp4")
    (folder / ".venv").symlink_to(ROOT / ".venv")
    return folder


@pytest.mark.parametrize("page", SNIPPET_PAGES, ids=lambda p: p.name)
def test_the_snippets_of_the_readme_and_getting_started_run(page: Path, tmp_path: Path):
    if not (ROOT / ".venv" / "bin" / "lowface").exists():
        pytest.skip("the snippets call .venv/bin/lowface: run make install")
    folder = sandbox(tmp_path)
    ran = 0
    for language, code, illustrative in snippets(page):
        if illustrative is not None:
            continue
        command = ["bash", "-e", "-o", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{page.name} snippet failed:\n{code}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        ran += 1
    assert ran >= 2
