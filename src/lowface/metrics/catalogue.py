"""Every metric and reported figure by name, with whether higher is better, its label and format, so that
reports, tables and ``lowface score`` never retype them.

A metric function registers itself where it is defined, with :func:`register_metric`; figures that a benchmark
counts rather than computes with one function (detection rate, faces found, ms per megapixel) are registered here
with :func:`reported`. ``METRICS.get(name)`` (or :func:`create_metric`) gives the :class:`Metric`; calling it calls
the function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lowface.registry import METRICS

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Metric:
    """A named figure: ``label`` (a table header), ``higher_is_better``, ``fmt`` (for the displayed value, after
    scaling by 100 when ``percent``) and, for a computed metric, the function that computes it."""

    name: str
    label: str
    higher_is_better: bool
    fmt: str = "{:.2f}"
    percent: bool = False
    compute: Callable[..., Any] | None = None

    @property
    def lower_is_better(self) -> bool:
        return not self.higher_is_better

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    def display(self, value: float | None) -> float | None:
        """The value as shown: x 100 for a percentage."""
        return None if value is None else 100 * value if self.percent else value

    def format(self, value: float | None) -> str:
        return "-" if value is None else self.fmt.format(self.display(value))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compute is None:
            raise TypeError(f"{self.name} is counted by the benchmark, not computed by one function")
        return self.compute(*args, **kwargs)


def register_metric(name: str, label: str, higher_is_better: bool, fmt: str = "{:.2f}") -> Callable[[F], F]:
    """Decorator: register the decorated function as metric ``name``; the function is returned unchanged."""

    def add(function: F) -> F:
        METRICS.register(name)(Metric(name, label, higher_is_better, fmt, compute=function))
        return function

    return add


def reported(name: str, label: str, higher_is_better: bool, fmt: str = "{:.2f}", percent: bool = False) -> None:
    """Register a figure that the benchmark counts (no single function computes it)."""
    METRICS.register(name)(Metric(name, label, higher_is_better, fmt, percent))


def create_metric(name: str) -> Metric:
    """The metric registered as ``name`` (KeyError listing the known ones otherwise).

    Example:
        >>> psnr = create_metric("psnr")
        >>> psnr.higher_is_better, psnr.label
        (True, 'PSNR dB')
    """
    return METRICS.get(name)  # type: ignore[return-value]


reported("detection_rate", "det %", True, "{:.1f}", percent=True)
reported("landmark_success", "lmk %", True, "{:.1f}", percent=True)
reported("faces", "faces", True, "{:.0f}")
reported("found", "found", True, "{:.0f}")
reported("invented", "invented", False, "{:.0f}")
reported("accuracy", "acc %", True, "{:.2f}", percent=True)
reported("tar_at_far_1e-3", "TAR@1e-3 %", True, "{:.1f}", percent=True)
reported("rank1", "rank-1 %", True, "{:.1f}", percent=True)
reported("recovery", "recovery %", True, "{:.0f}", percent=True)
reported("rank1_oracle", "oracle rank-1 %", True, "{:.1f}", percent=True)
reported("far_at_clean", "FAR@clean 1e-2 %", False, "{:.2f}", percent=True)  # LFW: clean impostors' threshold
reported("far_at_0.001", "FAR@1e-3 %", False, "{:.2f}", percent=True)  # in the wild: clean impostors' threshold
reported("far_at_0.01", "FAR@1e-2 %", False, "{:.2f}", percent=True)
reported("new_far_at_0.001", "new FA@1e-3 %", False, "{:.2f}", percent=True)  # not made by the clean photo
reported("tar_at_0.001", "TAR@1e-3 %", True, "{:.1f}", percent=True)
reported("kid_x1000", "KID-EffNet x1e3", False, "{:.1f}")
reported("ms_per_megapixel", "ms/MP", False, "{:.0f}")
reported("peak_rss_mb", "peak RSS MB", False, "{:.0f}")
