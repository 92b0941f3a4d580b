"""Consoles over the network: a pty served by the real ser2net as socket:// and
rfc2217://, reached through Link's file descriptor in both directions."""

from __future__ import annotations

import os
import select
import shutil
import socket
import time
import tty

import pytest

from linerate.console.errors import PortError
from linerate.console.link import Link
from linerate.vboard.ser2net import Ser2net


def _read_until(fd: int, want: bytes, timeout: float = 10.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            got += os.read(fd, 4096)
    return got


@pytest.mark.skipif(shutil.which("ser2net") is None, reason="ser2net not installed (make deps)")
@pytest.mark.parametrize("kind", ["socket", "rfc2217"])
def test_a_network_console_carries_both_ways(kind):
    master, slave = os.openpty()
    tty.setraw(master)
    try:
        with Ser2net(os.ttyname(slave), kind) as url:
            assert url.startswith(f"{kind}://127.0.0.1:")
            link = Link(url, 115200).open()
            try:
                time.sleep(0.5)  # ser2net opens the device when the client connects
                os.write(link.fileno(), b"to-board\r")
                assert b"to-board" in _read_until(master, b"to-board")
                os.write(master, b"from-board\r\n")
                assert b"from-board" in _read_until(link.fileno(), b"from-board")
            finally:
                link.close()
    finally:
        os.close(master)
        os.close(slave)


def test_a_console_nobody_serves_says_what_to_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PortError, match="check that its server .* runs and listens there"):
        Link(f"socket://127.0.0.1:{port}", 115200).open()
