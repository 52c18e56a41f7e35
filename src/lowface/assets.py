"""Files lowface reads but does not compute: where they are, their sha256, and the one "missing file" error.

Two kinds, one rule (every file is checksum-checked before it is read):

- lowface's own package files (shipped weights, fitted gate and router, committed data splits): listed with their
  sha256 in a ``SHA256SUMS`` file beside them (``sha256sum`` format); :func:`package_file` finds and checks them.
  A tool that writes such a file calls :func:`record_checksum`.
- files inside third-party registry packages (face networks, backbones, metric models): each an :class:`Asset`
  naming the importable package, the path inside it, its sha256, the pip requirement and the licence. Nothing is
  downloaded: a package that is not installed is an :class:`AssetMissing` naming what to install.

This module imports nothing from lowface: everything else may use it.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

SUMS_FILE = "SHA256SUMS"
WEIGHTS = "lowface.weights"  # the package that holds the shipped weights and fitted models


class AssetMissing(FileNotFoundError):
    """A file lowface needs is not installed; the message says what provides it."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> Path:
    """``path`` back when its sha256 is ``expected``; ValueError naming the file otherwise."""
    if (actual := sha256_file(path)) != expected:
        raise ValueError(f"{path}: sha256 {actual} does not match the expected {expected}; the file is corrupt")
    return Path(path)


def _package_dir(package: str) -> Path:
    return Path(str(resources.files(package)))


def read_sums(sums: Path) -> dict[str, str]:
    """{file name: sha256} from a ``sha256sum``-format file ({} when there is none)."""
    if not sums.is_file():
        return {}
    entries = (line.split(maxsplit=1) for line in sums.read_text().splitlines() if line.strip())
    return {name.strip().lstrip("*"): digest for digest, name in entries}


@cache
def _sums(package: str) -> dict[str, str]:
    """The package's SHA256SUMS, read once."""
    return read_sums(_package_dir(package) / SUMS_FILE)


def package_file(package: str, name: str, verify: bool = True) -> Path:
    """Path of lowface's own file ``name`` in ``package`` (e.g. ``"lowface.weights"``), sha256-checked against
    the package's SHA256SUMS. A file that is absent, or not listed there, is an error."""
    path = _package_dir(package) / name
    if not path.is_file():
        raise AssetMissing(f"{path} is missing from the installed lowface; reinstall it")
    if verify:
        expected = _sums(package).get(name)
        if expected is None:
            raise ValueError(f"{path}: not listed in {package}'s {SUMS_FILE}; run tools that write it via "
                             "lowface.assets.record_checksum")  # fmt: skip
        verify_sha256(path, expected)
    return path


def record_checksum(path: str | Path) -> str:
    """Update ``path``'s line in the SHA256SUMS beside it, when its folder keeps one (lowface's package folders
    do); returns the sha256."""
    path = Path(path)
    sums_path = path.parent / SUMS_FILE
    digest = sha256_file(path)
    if not sums_path.is_file():
        return digest
    lines = {**read_sums(sums_path), path.name: digest}
    sums_path.write_text("".join(f"{lines[name]}  {name}\n" for name in sorted(lines)))
    _sums.cache_clear()
    return digest


@dataclass(frozen=True)
class Asset:
    """A file inside an installed registry package.

    ``module``: the importable package holding it; ``relative_path``: inside that package's folder;
    ``requirement``: what to pip install (shown when missing); ``licence`` and ``description`` for the catalogue.
    """

    name: str
    module: str
    relative_path: str
    sha256: str
    requirement: str
    licence: str
    description: str

    def locate(self, verify: bool = True) -> Path:
        """The file's path, sha256-checked unless ``verify`` is False; :class:`AssetMissing` when not installed."""
        try:
            spec = importlib.util.find_spec(self.module)
        except ImportError:
            spec = None
        if spec is None or (spec.origin is None and not spec.submodule_search_locations):
            raise AssetMissing(f"{self.description} needs the package {self.requirement}: pip install it")
        folder = Path(spec.origin).parent if spec.origin else Path(next(iter(spec.submodule_search_locations)))
        path = folder / self.relative_path
        if not path.is_file():
            raise AssetMissing(f"{path} is missing from the installed {self.requirement}; reinstall it")
        return verify_sha256(path, self.sha256) if verify else path
