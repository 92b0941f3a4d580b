"""Real clients with a small MSS (TCP_MAXSEG in the SYN): complete bodies, no stall."""

from __future__ import annotations

import http.client
import socket

import pytest
from hostenv import HostEnv
from slhttpd_expect import body

from linerate.host import netns


def get_with_mss(env: HostEnv, mss: int, target: str) -> tuple[int, bytes]:
    with netns.entered(env.topo.client_ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
    sock.settimeout(20)
    sock.connect((env.addr, 80))
    conn = http.client.HTTPConnection(env.addr, 80, timeout=20)
    conn.sock = sock
    try:
        conn.request("GET", target)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("mss", [88, 200, 536, 1000])
@pytest.mark.parametrize("size", [100, 1000, 4000, 7000])
def test_small_mss_whole_window_without_retransmission(env: HostEnv, mss: int, size: int) -> None:
    """The response fits the client's 64 KiB window: it must arrive without the client having
    to retransmit its request (which costs an RTO, 200 ms or more)."""
    before = env.stats()
    status, data = get_with_mss(env, mss, f"/{size}")
    assert status == 200
    assert data == body(size)
    after = env.stats()
    assert after["req_retrans"] == before["req_retrans"], (
        f"MSS {mss}, /{size}: the response stalled until the client retransmitted its request"
    )


def test_too_large_for_a_tiny_mss_is_413(env: HostEnv) -> None:
    """PROTOCOL.md: more than 112 full segments after the head part: 413, in close mode."""
    status, _ = get_with_mss(env, 88, "/64k")
    assert status == 413
