"""Old module paths, kept as aliases: ``import lowface.api`` (and the other top-level modules of lowface 0.1 before
the inference/, io/ and cli/ packages) gives the module that now holds the same names, with a
DeprecationWarning naming the new path. Installed by ``lowface/__init__.py``; nothing else imports it."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED = {
    "lowface.api": "lowface.inference",
    "lowface.pretrained": "lowface.inference.catalogue",
    "lowface.gate": "lowface.inference.gate",
    "lowface.routing": "lowface.inference.routing",
    "lowface.logistic": "lowface.inference.logistic",
    "lowface.tiling": "lowface.inference.tiling",
    "lowface.temporal": "lowface.inference.temporal",
    "lowface.batch": "lowface.inference.batch",
    "lowface.devices": "lowface.inference.devices",
    "lowface.export": "lowface.inference.export",
    "lowface.distributed": "lowface.inference.ray_batch",
    "lowface.video": "lowface.io.video",
    "lowface.demo": "lowface.cli.demo",
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old names of :data:`MOVED` and loads them as the new modules."""

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        return importlib.machinery.ModuleSpec(name, self) if name in MOVED else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} is now {MOVED[spec.name]}", DeprecationWarning, stacklevel=2)
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """The new module is already executed."""


def install() -> None:
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
