"""Attach this terminal to the virtual board's console pty (like picocom, minimal)."""

from __future__ import annotations

import os
import tty
from collections.abc import Callable

from linerate.console.relay import relay


def attach(pty: str, alive: Callable[[], bool]) -> None:
    """Relay between stdin/stdout and ``pty`` until Ctrl-] or ``alive()`` turns False."""
    fd = os.open(pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        relay(fd, lambda data: os.write(fd, data), alive, who="--console")
    finally:
        os.close(fd)
