"""Test tiers: each folder under tests/ is a pytest marker of the same name."""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = ("unit", "host", "layer", "vboard", "board")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(root)
        tier = rel.parts[0] if len(rel.parts) > 1 else ""
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
