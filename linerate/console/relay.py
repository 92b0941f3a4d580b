"""Attach this terminal to a board's console (a serial device or a pty), like picocom."""

from __future__ import annotations

import os
import select
import sys
import termios
import tty
from collections.abc import Callable
from typing import BinaryIO

from linerate.errors import LinerateError

QUIT = b"\x1d"  # Ctrl-]


def relay(
    fd: int,
    send: Callable[[bytes], object],
    alive: Callable[[], bool],
    log: BinaryIO | None = None,
    who: str = "the console",
) -> None:
    """Copy ``fd`` to stdout (and ``log``), stdin to ``send``, until Ctrl-], the other end
    closes, or ``alive()`` turns False. The terminal is raw meanwhile and restored after."""
    if not sys.stdin.isatty():
        raise LinerateError(f"{who} needs a terminal on stdin")
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
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
                    break  # the device went away (QEMU closed the pty, cable pulled)
                if data:
                    os.write(stdout, data)
                    if log is not None:
                        log.write(data)
                        log.flush()
            if stdin in ready:
                data = os.read(stdin, 1024)
                if not data or QUIT in data:
                    break
                send(data)
    finally:
        termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
