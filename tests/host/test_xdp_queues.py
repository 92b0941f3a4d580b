"""--mode xdp on an interface with several RX queues: an AF_XDP socket on each (issue 12).

A NIC with RSS spreads connections over its RX queues; the XDP program runs on each and hands
what it cannot finish (every request, here: a veth has no room to grow a frame to its answer)
to the AF_XDP socket of the queue the frame came in on (sl_xsks_map[rx queue]). With one
socket on queue 0 only, every request arriving on another queue was dropped.

The veth pair has 4 TX and 4 RX queues per end: a veth delivers a frame on the peer's RX queue
with the index of the sender's TX queue, which the client's kernel picks per connection from
the socket's random flow hash (no XPS on a veth). With dozens of connections every queue gets
some (all of them missing one queue: about 4 * (3/4)^48, never).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hostenv import HostEnv
from httpclient import Client
from slhttpd_expect import body

from linerate.errors import LinerateError
from linerate.host.wrk import parse_wrk, wrk_argv

QUEUES = 4


@pytest.fixture
def mq_env(mode: str, make_env: Callable[..., HostEnv]) -> HostEnv:
    if mode != "xdp":
        pytest.skip("AF_XDP sockets per RX queue: --mode xdp only (AF_PACKET sees every queue)")
    return make_env([], queues=QUEUES)


def _per_queue(stats: dict[str, int], name: str, since: dict[str, int] | None = None) -> list[int]:
    """Counter ``name`` of each queue's socket (``since``: less its value there)."""
    return [stats[f"fe_q{q}_{name}"] - (since or {}).get(f"fe_q{q}_{name}", 0)
            for q in range(QUEUES)]  # fmt: skip


def test_every_rx_queue_has_a_socket_and_is_served(mq_env: HostEnv) -> None:
    env = mq_env
    out = env.fe.stdout_path.read_text()
    assert re.search(rf"AF_XDP sockets on RX queues 0\.\.{QUEUES - 1}\b", out), out
    before = env.stats()
    assert f"fe_q{QUEUES}_rx_frames" not in before, "more sockets than the veth has queues"

    # http.client: 48 connections, three keep-alive requests each (one-frame and
    # multi-frame answers), every body exact
    sizes = (0, 1024, 20000)
    for i in range(48):
        c = Client(env, timeout=10, nodelay=True)
        try:
            for size in sizes:
                status, headers, data = c.get(f"/{size + i}")
                assert status == 200, f"connection {i}, size {size + i}"
                assert headers["connection"] == "keep-alive"
                assert data == body(size + i), f"connection {i}, size {size + i}: body differs"
            assert c.connections == 1
        finally:
            c.close()
    # curl: a connection per process
    for i in range(8):
        r = env.client(["curl", "-sS", "--max-time", "10", env.url(f"/{3000 + i}")], timeout=20)
        assert r.returncode == 0, r.stderr
        assert r.stdout == body(3000 + i)
    mid = env.stats()
    served = sum(mid[k] - before[k] for k in ("req_keepalive", "req_close"))
    assert served == 48 * len(sizes) + 8
    rx = _per_queue(mid, "rx_frames", before)
    tx = _per_queue(mid, "tx_frames", before)
    # every request went through a socket (no room on a veth): each queue carried some
    assert all(n > 0 for n in rx), f"frames per queue: {rx}"
    assert all(n > 0 for n in tx), f"frames sent per queue: {tx}"
    assert sum(rx) == mid["fe_rx_frames"] - before["fe_rx_frames"]
    assert sum(tx) == mid["fe_tx_frames"] - before["fe_tx_frames"]

    # wrk, briefly: 16 keep-alive connections, nothing lost
    r = env.client(wrk_argv(env.url("/1k"), seconds=2, conns=16, close=False), timeout=30)
    res = parse_wrk(r.stdout.decode())
    assert r.returncode == 0, r.stderr
    assert res.requests > 100, r.stdout
    assert res.socket_errors == {}, r.stdout
    assert res.non_2xx == 0, r.stdout
    after = env.stats()
    assert after["fe_tx_errors"] == before["fe_tx_errors"]
    assert sum(_per_queue(after, "rx_ring_drops")) == after["fe_rx_ring_drops"]


def test_more_queues_than_the_interface_has_are_refused(
    mode: str, make_env: Callable[..., HostEnv]
) -> None:
    if mode != "xdp":
        pytest.skip("--queues: --mode xdp only")
    with pytest.raises(LinerateError, match="--queues: .*: lrt[0-9a-z_]+-s0 has 2 RX queues"):
        make_env(["--queues", "3"], queues=2)
