"""The one long-lived cache of linerate: kernel builds, ccache, virtual-board images,
downloads and the unpacked third-party layers, keyed by their inputs and shared by
every clone on this machine (``make``, every CLI command and the tests use it)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$LINERATE_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/linerate``."""
    env = os.environ.get("LINERATE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "linerate"
