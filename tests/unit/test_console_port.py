"""SerialPort over a real pty pair: errors say what to check, bad patterns fail at once."""

from __future__ import annotations

import os
import time

import pytest

from linerate.console import (
    BadPatternError,
    ConsoleTimeoutError,
    PortError,
    SerialPort,
)
from linerate.console.patterns import UBOOT_SIGNON
from linerate.console.transcript import Transcript


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    yield master, path
    os.close(master)
    os.close(slave)


def test_missing_port_says_check_cable(tmp_path):
    with pytest.raises(PortError, match="no such port .*plugged in"):
        SerialPort(str(tmp_path / "ttyUSB9")).open()


def test_not_a_tty_says_so(tmp_path):
    f = tmp_path / "plain"
    f.write_text("")
    with pytest.raises(PortError, match="not a serial port|cannot open"):
        SerialPort(str(f)).open()


def test_busy_port_names_the_usual_suspects(pty_pair):
    _, path = pty_pair
    with SerialPort(path):
        with pytest.raises(PortError, match="busy.*screen, minicom"):
            SerialPort(path).open()


def test_silent_board_times_out_with_hint(pty_pair, tmp_path):
    _, path = pty_pair
    t0 = time.monotonic()
    with SerialPort(path, baud=115200, transcript=tmp_path / "t.log") as port:
        with pytest.raises(ConsoleTimeoutError, match="no output at all.*powered.*115200"):
            port.expect("=> ", timeout=0.5)
    assert time.monotonic() - t0 < 5


def test_expect_returns_index_and_before(pty_pair, tmp_path):
    master, path = pty_pair
    with SerialPort(path, transcript=tmp_path / "t.log") as port:
        os.write(master, b"hello world\r\nprompt> ")
        assert port.expect(["nothing", "prompt> "], timeout=2) == 1
        assert "hello world" in port.before
    assert "hello world" in (tmp_path / "t.log").read_text()


def test_bad_pattern_raises_with_tail(pty_pair):
    master, path = pty_pair
    with SerialPort(path) as port:
        os.write(master, b"booting\r\nKernel panic - not syncing: VFS\r\nmore\r\n")
        with pytest.raises(BadPatternError) as info:
            port.expect("login: ", timeout=5)
    assert info.value.name == "kernel panic"
    assert "booting" in str(info.value)
    assert "not syncing" in info.value.matched


def test_bad_pattern_before_wanted_wins(pty_pair):
    master, path = pty_pair
    with SerialPort(path) as port:
        os.write(master, b"U-Boot 2023.01 (Jan 1)\r\n=> ")
        with pytest.raises(BadPatternError, match="board reset"):
            port.expect("=> ", timeout=5)


def test_allow_suspends_one_pattern(pty_pair):
    master, path = pty_pair
    with SerialPort(path) as port:
        os.write(master, b"U-Boot 2023.01 (Jan 1)\r\n=> ")
        with port.allow(UBOOT_SIGNON):
            assert port.expect("=> ", timeout=5) == 0
        os.write(master, b"U-Boot 2023.01 again\r\n=> ")
        with pytest.raises(BadPatternError):
            port.expect("=> ", timeout=5)


def test_peer_gone_is_an_error_not_a_hang(tmp_path):
    master, slave = os.openpty()
    path = os.ttyname(slave)
    port = SerialPort(path).open()
    os.close(slave)
    os.close(master)
    t0 = time.monotonic()
    with pytest.raises((PortError, ConsoleTimeoutError)):
        port.expect("=> ", timeout=2)
    assert time.monotonic() - t0 < 5
    port.close()


def test_transcript_tail_is_bounded_and_clean():
    t = Transcript(tail_chars=100)
    for i in range(100):
        t.write(f"line {i}\r\n")
    t.write("linerate-vboard# \x1b[6n")
    tail = t.tail()
    assert len(tail) <= 120
    assert "\r" not in tail and "\x1b[6n" not in tail
    assert tail.endswith("linerate-vboard# ")
    assert t.received > 800
