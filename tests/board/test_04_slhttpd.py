"""SLHTTPD answers on every test port from this host, keep-alive and close mode, with
the protocol's bodies, and its counters count exactly the requests sent."""

from __future__ import annotations

import time

import pytest
from board_helpers import body, connect, counters, read_response

KEEPALIVE_SIZES = (1, 64, 100, 1460, 5000, 20000)
CLOSE_SIZES = (0, 64, 3000)


@pytest.fixture
def slhttpd(board, at_shell, ndiv_kernel):
    status, _ = at_shell.shell.run("test -d /sys/kernel/slhttpd")
    if status != 0:
        if board.profile.virtual:
            pytest.skip("slhttpd.ko is not in the virtual board's image (LINERATE_VBOARD_SLHTTPD)")
        pytest.fail("SLHTTPD is not loaded: /sys/kernel/slhttpd is missing")
    return at_shell


def _counters(control) -> dict[str, int]:
    return counters(control.shell.check("cat /sys/kernel/slhttpd/counters"))


def _keepalive(host: str, port: int) -> None:
    with connect(host, port) as sock:
        buf = b""
        for size in KEEPALIVE_SIZES:
            sock.sendall(f"GET /{size} HTTP/1.1\r\nHost: board\r\n\r\n".encode())
            headers, got, buf = read_response(sock, buf, timeout=20.0)
            assert headers.get("connection") == "keep-alive", headers
            assert got == body(size), f"/{size}: body differs from the protocol's pattern"


def _close(host: str, port: int) -> None:
    for size in CLOSE_SIZES:
        with connect(host, port) as sock:
            sock.sendall(
                f"GET /{size} HTTP/1.1\r\nHost: board\r\nConnection: close\r\n\r\n".encode()
            )
            headers, got, rest = read_response(sock, b"", timeout=20.0)
            assert headers.get("connection") == "close", headers
            assert got == body(size)
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:  # the server closes after the response
                sock.settimeout(deadline - time.monotonic())
                data = sock.recv(4096)
                if not data:
                    break
                rest += data
            assert rest == b"", f"bytes after the response: {rest[:80]!r}"


def test_answers_on_every_test_port_and_counts_the_requests(board, board_profile, slhttpd):
    before = _counters(slhttpd)
    for port in board_profile.test_ports:
        host, tcp = board.http_endpoint(port)
        _keepalive(host, tcp)
        _close(host, tcp)
    time.sleep(0.5)
    after = _counters(slhttpd)
    n = len(board_profile.test_ports)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert delta.get("req_keepalive") == n * len(KEEPALIVE_SIZES), delta
    assert delta.get("req_close") == n * len(CLOSE_SIZES), delta
    assert delta.get("err_400", 0) == delta.get("err_404", 0) == 0, delta
