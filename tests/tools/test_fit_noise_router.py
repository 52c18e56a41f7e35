"""tools/fit_noise_router.py compares a refit with the router shipped for the same pair of networks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fit_noise_router.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("fit_noise_router", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_refit_is_compared_with_the_router_shipped_for_its_pair():
    tool = load_tool()
    assert tool.shipped_router_file("lowface-fast", "lowface-restore-real") == "noise_router.json"
    assert tool.shipped_router_file("lowface-fast", "lowface-restore-real-fast") == "noise_router_fast.json"
    assert tool.shipped_router_file("lowface-fast", "lowface-restore") == "noise_router.json"  # no card: the default's
