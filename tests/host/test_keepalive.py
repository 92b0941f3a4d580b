"""Python http.client: many requests on one keep-alive connection, every size up to the limit."""

from __future__ import annotations

import time

import pytest
from hostenv import HostEnv
from httpclient import Client
from slhttpd_expect import BODY_LIMIT, CONN_SPAN, body


def test_every_small_size_on_one_connection(env: HostEnv) -> None:
    """Sizes 0..n-1 back to back: each body exact, one connection, counters match.

    n keeps the connection below the span after which the server switches it to close mode
    (SL_CONN_SPAN - 2 * SL_BODY_LIMIT, with at most 400 header bytes per response).
    """
    before = env.stats()
    c = Client(env, nodelay=True)  # Nagle's own delay: test_nagle_client_is_not_held_back
    budget = CONN_SPAN - 2 * BODY_LIMIT
    n = next(k for k in range(1, 100000) if k * (k - 1) // 2 + 400 * k > budget) - 1
    assert n > 500
    total = 0
    try:
        for size in range(n):
            status, headers, data = c.get(f"/{size}")
            total += size
            assert status == 200, f"size {size}"
            assert headers["connection"] == "keep-alive", f"size {size} after {total} bytes"
            assert data == body(size), f"size {size}: body differs"
    finally:
        c.close()
    after = env.stats()
    assert c.connections == 1
    assert after["syn"] - before["syn"] == 1
    assert after["req_keepalive"] - before["req_keepalive"] == n
    assert after["req_retrans"] == before["req_retrans"]


def test_large_sizes_up_to_the_limit(env: HostEnv) -> None:
    """Sizes across segment boundaries up to the 128 KiB limit, then one past it (413)."""
    sizes = sorted({*range(1, BODY_LIMIT, 4999), *(k * 1451 + d for k in (1, 2, 45, 46, 90)
                    for d in (-1, 0, 1)), 65535, 65536, BODY_LIMIT})  # fmt: skip
    c = Client(env, timeout=20, nodelay=True)
    try:
        for size in sizes:
            status, _, data = c.get(f"/{size}")
            assert status == 200, f"size {size}"
            assert data == body(size), f"size {size}: body differs"
        status, headers, _ = c.get(f"/{BODY_LIMIT + 1}")
        assert status == 413
        assert headers["connection"] == "close"
    finally:
        c.close()
    # Large objects use up the connection's sequence span: the server closes and we reconnect.
    total = sum(sizes)
    assert c.connections <= total // (CONN_SPAN - 2 * BODY_LIMIT) + 2


def test_head_and_get_interleaved(env: HostEnv) -> None:
    c = Client(env)
    try:
        for size in (0, 10, 1451, 5000):
            status, headers, data = c.get(f"/{size}", method="HEAD")
            assert (status, data) == (200, b"")
            assert headers["content-length"] == str(size)
            status, _, data = c.get(f"/{size}")
            assert (status, data) == (200, body(size))
    finally:
        c.close()
    assert c.connections == 1


def test_nagle_client_is_not_held_back(env: HostEnv) -> None:
    """A client with Nagle on (Python's default) sends its next request only once the previous
    one is acknowledged. If the server acknowledges a request only after the client's
    (delayed, 40 ms+) ACK of the response, every request waits for that timer.

    100 small requests: with TCP_NODELAY they take about 10 ms here; allow 1.5 s.
    """
    c = Client(env, nodelay=False)
    t0 = time.monotonic()
    try:
        for size in range(100):
            status, _, data = c.get(f"/{size}")
            assert (status, data) == (200, body(size))
    finally:
        c.close()
    elapsed = time.monotonic() - t0
    assert elapsed < 1.5, (
        f"100 keep-alive requests took {elapsed:.2f} s ({elapsed * 10:.1f} ms each)"
    )


@pytest.mark.parametrize("size", [70000, 100000, BODY_LIMIT])
def test_response_larger_than_a_window_flows_on_acks(env: HostEnv, size: int) -> None:
    """A response larger than the client's 64 KiB window must be released by the client's
    ACKs. Linux acknowledges a burst delivered at once with one ACK (the window jumps by a
    whole burst); if that releases nothing, the rest waits for the client to retransmit its
    request (RTO: 200 ms, doubling on every stall of the connection since no RTT sample is
    taken from a retransmission)."""
    before = env.stats()
    c = Client(env, timeout=20, nodelay=True)
    t0 = time.monotonic()
    try:
        status, _, data = c.get(f"/{size}")
    finally:
        c.close()
    elapsed = time.monotonic() - t0
    assert (status, data == body(size)) == (200, True)
    retrans = env.stats()["req_retrans"] - before["req_retrans"]
    assert retrans == 0, f"/{size}: {retrans} request retransmissions needed, {elapsed:.2f} s"
