"""Random loss on the client's link: every response still arrives complete.

Lost server segments are recovered by the client retransmitting its request (its RTO, 200 ms
and more each time), lost requests and ACKs by the client's own TCP. Bounded request counts,
generous timeouts: at 20% loss a request can meet several failed rounds in a row, and the
client's RTO doubles each time (0.2 + 0.4 + ... + 25.6 s = 51 s after eight), more than the 60 s
these tests once allowed on a loaded machine; a stall of STALL_S with no byte still fails.
"""

from __future__ import annotations

import time

import pytest
from hostenv import HostEnv
from httpclient import Client
from slhttpd_expect import body

SIZES = [0, 100, 1451, 3000, 10000, 30000, 64000]
# Longest wait for one byte: nine doubling client RTOs (102 s) and a margin.
STALL_S = 150


@pytest.mark.parametrize("nodelay", [True, False], ids=["nodelay", "nagle"])
@pytest.mark.parametrize(("percent", "rounds"), [(5, 3), (20, 2)])
def test_loss_keepalive(env: HostEnv, percent: int, rounds: int, nodelay: bool) -> None:
    """http.client on one connection; with Nagle (Python's default) the next request waits
    for the previous one to be acknowledged, so a lost final ACK from the server makes the
    client retransmit the previous request at the request state."""
    before = env.stats()
    done = 0
    t0 = time.monotonic()
    with env.loss(percent):
        c = Client(env, timeout=STALL_S, nodelay=nodelay)
        try:
            for _ in range(rounds):
                for size in SIZES:
                    status, _, data = c.get(f"/{size}")
                    assert status == 200
                    assert data == body(size), f"size {size}: body differs"
                    done += 1
        finally:
            c.close()
    after = env.stats()
    served = sum(after[k] - before[k] for k in ("req_keepalive", "req_close"))
    # A request whose whole response was lost and that the client retransmits at the
    # request state is indistinguishable from a new one: at least, never fewer.
    assert served >= done
    print(f"{percent}% loss: {done} responses in {time.monotonic() - t0:.1f} s, "
          f"{after['req_retrans'] - before['req_retrans']} retransmitted requests")  # fmt: skip


@pytest.mark.parametrize("percent", [5, 20])
def test_loss_close_mode(env: HostEnv, percent: int) -> None:
    """New connections each time (handshake and FINs under loss too), via curl."""
    with env.loss(percent):
        for size in (64, 5000, 20000):
            r = env.client(
                ["curl", "-s", "--max-time", str(STALL_S), "-H", "Connection: close",
                 env.url(f"/{size}")],
                timeout=STALL_S + 30,
            )  # fmt: skip
            assert r.returncode == 0, f"curl /{size} under {percent}% loss: exit {r.returncode}"
            assert r.stdout == body(size)
