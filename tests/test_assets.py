"""Every file lowface reads is checksum-checked: its own package files against SHA256SUMS, files inside registry
packages against their Asset entry; a missing one is an AssetMissing naming what to install."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from lowface import assets
from lowface.assets import Asset, AssetMissing, package_file, record_checksum

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable package ``lowface_fake_assets`` holding one file listed in its SHA256SUMS."""
    folder = tmp_path / "lowface_fake_assets"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "table.json").write_text('{"a": 1}\n')
    (folder / assets.SUMS_FILE).write_text("")
    record_checksum(folder / "table.json")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield folder
    sys.modules.pop("lowface_fake_assets", None)
    assets._sums.cache_clear()


def test_a_listed_file_is_found_and_a_changed_one_refused(fake_package: Path):
    assert package_file("lowface_fake_assets", "table.json") == fake_package / "table.json"
    expected = hashlib.sha256(b'{"a": 1}\n').hexdigest()
    assert (fake_package / assets.SUMS_FILE).read_text() == f"{expected}  table.json\n"
    (fake_package / "table.json").write_text('{"a": 2}\n')
    with pytest.raises(ValueError, match=r"table.json: sha256 .* does not match the expected .*corrupt"):
        package_file("lowface_fake_assets", "table.json")
    record_checksum(fake_package / "table.json")  # what a tool that rewrites the file does
    assert package_file("lowface_fake_assets", "table.json").read_text() == '{"a": 2}\n'


def test_an_unlisted_or_missing_file_is_refused(fake_package: Path):
    (fake_package / "extra.json").write_text("{}")
    with pytest.raises(ValueError, match=r"extra\.json: not listed in lowface_fake_assets's SHA256SUMS"):
        package_file("lowface_fake_assets", "extra.json")
    with pytest.raises(AssetMissing, match=r"gone\.json is missing from the installed lowface"):
        package_file("lowface_fake_assets", "gone.json")


def test_the_shipped_sums_cover_every_shipped_file_and_match():
    for folder, _pattern in ((ROOT / "src/lowface/weights", "*[!y]"), (ROOT / "src/lowface/data", "*.json")):
        listed = dict(reversed(line.split()) for line in (folder / assets.SUMS_FILE).read_text().splitlines())
        shipped = {p.name for p in folder.glob("*") if p.suffix in (".json", ".safetensors")}
        assert set(listed) == shipped, folder
        for name, digest in listed.items():
            assert assets.sha256_file(folder / name) == digest, name


def test_a_registry_package_file_is_checked_and_a_missing_package_named():
    niqe_model = pytest.importorskip("lowface.metrics.niqe").PRISTINE_MODEL
    try:
        path = niqe_model.locate()
    except AssetMissing as exc:
        pytest.skip(f"basicsr is not installed here: {exc}")
    assert path.name == "niqe_pris_params.npz"
    wrong = Asset("x", niqe_model.module, niqe_model.relative_path, "0" * 64, "basicsr==1.4.2", "Apache-2.0", "NIQE")
    with pytest.raises(ValueError, match="does not match the expected 0000"):
        wrong.locate()
    absent = Asset("y", "no_such_module_here", "f.bin", "0" * 64, "nothing==1.0 (pip install it)", "MIT", "a thing")
    with pytest.raises(AssetMissing, match=r"a thing needs the package nothing==1.0 \(pip install it\)"):
        absent.locate()
    assert issubclass(AssetMissing, FileNotFoundError)  # the CLI's error mapping shows it as one line
