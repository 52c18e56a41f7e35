"""Named registries: one build path per kind of part. A name in a config, on the command line or in a benchmark
picks the class or factory registered under it.

Each registry knows the package whose import fills it, and imports it on first use, so a caller never needs a
"fill the registry" import. Adding a part is one file plus one ``@REGISTRY.register("name")`` line (see
docs/architecture.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from typing import Any, TypeVar

T = TypeVar("T")


class Registry:
    """A mapping from names to classes or factories, filled by the :meth:`register` decorator.

    Example:
        >>> SHAPES = Registry("shape")
        >>> @SHAPES.register("square")
        ... def square(side: float) -> float:
        ...     return side * side
        >>> SHAPES.create("square", side=3.0), SHAPES.names()
        (9.0, ['square'])
    """

    def __init__(self, kind: str, package: str | None = None):
        self.kind, self.package = kind, package
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj  # type: ignore[assignment]
            return obj

        return add

    def _filled(self) -> dict[str, Callable[..., Any]]:
        if self.package is not None:
            importlib.import_module(self.package)  # registers its parts on first import; cached after
        return self._entries

    def get(self, name: str) -> Callable[..., Any]:
        entries = self._filled()
        try:
            return entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(entries))}") from None

    def create(self, name: str, **kwargs: Any) -> Any:
        """The part registered as ``name``, called with ``kwargs``."""
        return self.get(name)(**kwargs)

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._filled() if fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._filled()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._filled()))


MODELS = Registry("model architecture", "lowface.models")  # lowface.models.base.EnhancementModel subclasses
OBJECTIVES = Registry("training objective", "lowface.losses")  # factories: (config, parts) -> objective
BACKBONES = Registry("feature extractor", "lowface.backbones")  # factories: (weights=None) -> FeatureExtractor
DETECTORS = Registry("face detector", "lowface.face.detect")  # factories: () -> FaceDetector
RECOGNIZERS = Registry("face recognizer", "lowface.face.recognizers")  # factories: () -> recognizer
METRICS = Registry("metric", "lowface.metrics")  # lowface.metrics.catalogue.Metric entries
