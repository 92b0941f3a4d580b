"""Shared by the layer tier's tests: the repository, its machines and boards.

(Not conftest.py: every tier has one, and test modules import this by name.)
"""

from __future__ import annotations

import pytest
import yaml

from linerate import ROOT

MACHINES = ("openblocks-ax3", "mirabox")
#: board folder -> kas machine, as the layer defines them.
BOARDS = {"openblocks-ax3": "openblocks-ax3", "mirabox": "mirabox"}


def board_profile(board: str) -> dict:
    """board/<board>/board.yml as data; skips when the profile does not exist yet."""
    path = ROOT / "board" / board / "board.yml"
    if not path.is_file():
        pytest.skip(f"{path} does not exist yet: nothing to compare the layer with")
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data
