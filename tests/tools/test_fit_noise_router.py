"""tools/fit_noise_router.py compares a refit with the router shipped for the same pair of networks."""

from __future__ import annotations

from conftest import load_tool


def test_a_refit_is_compared_with_the_router_shipped_for_its_pair():
    tool = load_tool("fit_noise_router")
    assert tool.shipped_router_file("lowface-fast", "lowface-restore-real") == "noise_router.json"
    assert tool.shipped_router_file("lowface-fast", "lowface-restore-real-fast") == "noise_router_fast.json"
    assert tool.shipped_router_file("lowface-fast", "lowface-restore") == "noise_router.json"  # no card: the default's
