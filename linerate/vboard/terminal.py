"""Attach this terminal to the virtual board's console pty (like picocom, minimal)."""

from __future__ import annotations

import os
import select
import sys
import termios
import tty
from collections.abc import Callable

from linerate.errors import LinerateError

QUIT = b"\x1d"  # Ctrl-]


def attach(pty: str, alive: Callable[[], bool]) -> None:
    """Relay between stdin/stdout and ``pty`` until Ctrl-] or ``alive()`` turns False."""
    if not sys.stdin.isatty():
        raise LinerateError("--console needs a terminal on stdin")
    fd = os.open(pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    saved = termios.tcgetattr(stdin)
    try:
        tty.setraw(stdin)
        while alive():
            ready, _, _ = select.select([stdin, fd], [], [], 0.5)
            if fd in ready:
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    data = b""
                except OSError:
                    break  # QEMU closed the pty
                if data:
                    os.write(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 1024)
                if not data or QUIT in data:
                    break
                os.write(fd, data)
    finally:
        termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        os.close(fd)
