"""constraints.txt, the exact versions ``make install`` installs, agrees with every requirement that names a version
(pyproject.toml's dependencies and extras, the Makefile's own pip lines): a pin bumped in one place and not the
other makes a fresh install fail or silently take another version."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def constraints() -> dict[str, Version]:
    """constraints.txt as {canonical name: version}; every line is ``name==version`` (comments aside)."""
    pinned: dict[str, Version] = {}
    for number, line in enumerate((ROOT / "constraints.txt").read_text().splitlines(), 1):
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and name and version, f"constraints.txt:{number}: {line!r} is not name==version"
        key = canonicalize_name(name)
        assert key not in pinned, f"constraints.txt:{number}: {name} pinned twice"
        pinned[key] = Version(version)
    return pinned


def makefile_install_lines() -> list[str]:
    """The Makefile's ``pip install`` command lines."""
    return [line for line in (ROOT / "Makefile").read_text().splitlines() if "pip install" in line]


def declared_requirements() -> list[tuple[str, Requirement]]:
    """(where, requirement) for pyproject.toml's dependencies and extras and the Makefile's ``pip install`` pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [("pyproject dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, requirements in project["optional-dependencies"].items():
        found += [(f"pyproject extra {extra}", Requirement(r)) for r in requirements]
    for line in makefile_install_lines():
        found += [("Makefile", Requirement(pin)) for pin in re.findall(r"[A-Za-z0-9_.\-]+==[\w.+\-]+", line)]
    return found


def test_every_declared_version_range_admits_the_constrained_version():
    pinned = constraints()
    for where, requirement in declared_requirements():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        key = canonicalize_name(requirement.name)
        assert key in pinned, f"{where}: {requirement.name} is not in constraints.txt (refresh it: see its header)"
        assert requirement.specifier.contains(pinned[key], prereleases=True), (
            f"{where}: {requirement} does not admit constraints.txt's {requirement.name}=={pinned[key]}"
        )


def test_the_makefile_installs_every_package_under_the_constraints():
    installs = [line for line in makefile_install_lines() if "--upgrade pip" not in line]
    assert installs, "the Makefile installs nothing?"
    for line in installs:
        assert "-c constraints.txt" in line, f"Makefile: {line.strip()!r} installs without -c constraints.txt"
