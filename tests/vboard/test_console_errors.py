"""Console errors on the real virtual board: a silent board and a busy port say what to
check, within their timeouts."""

from __future__ import annotations

import time

import pytest

from linerate.console import ConsoleTimeoutError, PortError, SerialPort, UBootDriver
from linerate.vboard.launcher import VirtualBoard


def test_silent_board_and_busy_port(vboard_images, transcript):
    with VirtualBoard(vboard_images) as board:  # started paused: "powered off"
        assert board.pty is not None
        with SerialPort(board.pty, transcript=transcript("console_errors")) as port:
            t0 = time.monotonic()
            with pytest.raises(ConsoleTimeoutError, match="no output at all.*powered"):
                UBootDriver(port).stop_autoboot(timeout=1.5)
            assert time.monotonic() - t0 < 5
            with pytest.raises(PortError, match="busy"):
                SerialPort(board.pty).open()
            board.resume()  # power on: now U-Boot answers on the same port
            UBootDriver(port).stop_autoboot(timeout=30)
