"""Shared by the layer tier's tests: the repository, its machines and boards.

(Not conftest.py: every tier has one, and test modules import this by name.)
"""

from __future__ import annotations

import pytest
import yaml

from linerate import ROOT
from linerate.layer import parse as layer_parse

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


def pinned_layers(why: str) -> layer_parse.Layers:
    """The pinned third-party layers, or a skip that says what is missing and ``why``."""
    found = layer_parse.find_layers()
    if found is None:
        pytest.skip(
            f"no third-party layers{why}: {layer_parse.LAYERS_ENV} is not set and "
            f"{layer_parse.SHARED_ARCHIVE} does not exist"
        )
    return found
