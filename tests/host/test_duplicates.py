"""No duplicate segments at 0 % loss: what the server sends is what the client needs.

Real Linux clients on a veth, nothing lost: every TCP payload byte the server emits
(`tx_bytes`) beyond the responses' own bytes is a duplicate. The stateless ACK rules alone
sent about a quarter more than needed for /128k, and in about one curl of five a storm of
thousands of frames (the copies of one duplicate ACK each answered with a whole window, and
each duplicate making another copy); the sender cache (PROTOCOL.md) sends each segment once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hostenv import HostEnv

from linerate.host import netns

# Duplicated payload bytes allowed, as a share of the response bytes (0 measured).
DUP_SHARE = 0.01


def _curl_bytes(env: HostEnv, target: str) -> int:
    """Header + body bytes of one curl response (a new connection)."""
    r = env.client(
        ["curl", "-s", "--max-time", "20", "-o", "/dev/null",
         "-w", "%{size_header} %{size_download} %{http_code}", env.url(target)],
        timeout=30,
    )  # fmt: skip
    assert r.returncode == 0, f"curl {target}: exit {r.returncode} {r.stderr!r}"
    hdr, body, code = r.stdout.split()
    assert code == b"200"
    return int(hdr) + int(body)


@contextmanager
def _client_sysctls(env: HostEnv, **values: int) -> Iterator[None]:
    """net.ipv4.* of the client namespace set for a block (a client variant)."""
    ns = env.topo.client_ns
    old = {k: netns.run(netns.in_ns(ns, ["sysctl", "-n", f"net.ipv4.{k}"])).strip() for k in values}
    try:
        for k, v in values.items():
            netns.run(netns.in_ns(ns, ["sysctl", "-qw", f"net.ipv4.{k}={v}"]))
        yield
    finally:
        for k, v in old.items():
            netns.run(netns.in_ns(ns, ["sysctl", "-qw", f"net.ipv4.{k}={v}"]), check=False)


VARIANTS = {
    "linux": {},
    "no-timestamps": {"tcp_timestamps": 0},
    "no-sack": {"tcp_sack": 0},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize(("target", "count"), [("/128k", 20), ("/64k", 20), ("/10000", 20)])
def test_curl_gets_each_segment_once(env: HostEnv, variant: str, target: str, count: int) -> None:
    worst = 0
    need = sent = 0
    with _client_sysctls(env, **VARIANTS[variant]):
        for _ in range(count):
            before = env.stats()
            got = _curl_bytes(env, target)
            after = env.stats()
            tx = after["tx_bytes"] - before["tx_bytes"]
            worst = max(worst, tx - got)
            need += got
            sent += tx
    print(f"{variant} {target} x{count}: {need} bytes needed, {sent} sent, "
          f"{sent - need} duplicated, the worst response {worst}")  # fmt: skip
    assert sent >= need
    assert sent - need <= DUP_SHARE * need, (
        f"{sent - need} duplicated bytes of {need} ({(sent - need) / need:.1%}); "
        f"the worst response: {worst}"
    )


@pytest.mark.parametrize("target", ["/64k", "/128k"])
def test_wrk_keepalive_sends_each_segment_once(env: HostEnv, target: str) -> None:
    one = _curl_bytes(env, target)
    before = env.stats()
    r = env.client(["wrk", "-t1", "-c8", "-d2s", "--timeout", "10s", env.url(target)], timeout=60)
    after = env.stats()
    assert r.returncode == 0, r.stderr
    # a connection past 2 MiB of responses is answered in close mode (PROTOCOL.md): wrk
    # reconnects; those responses differ from `one` by a header of a few bytes
    served = sum(after[k] - before[k] for k in ("req_keepalive", "req_close"))
    tx = after["tx_bytes"] - before["tx_bytes"]
    assert served > 0
    # wrk stops mid-response at the end of its run: those responses count whole here, so a
    # shortfall is fine; an excess is duplicates
    need = served * one
    print(f"wrk {target}: {served} responses, {need} bytes needed, {tx} sent, "
          f"{after['req_retrans'] - before['req_retrans']} requests retransmitted")  # fmt: skip
    assert tx - need <= DUP_SHARE * need, f"{tx - need} duplicated bytes of {need}"


def test_stateless_server_still_serves_whole_responses(make_env, mode: str) -> None:
    """`--stateless` (no answered table: bench/loss_bench.py's comparison) answers from the
    frame alone, as without a cache entry; every response still arrives whole."""
    if mode != "afpacket":
        pytest.skip("--stateless is for --mode afpacket")
    env = make_env(["--stateless"])
    for target, size in (("/128k", 131072), ("/10000", 10000)):
        for _ in range(5):
            r = env.client(
                ["curl", "-s", "--max-time", "20", "-o", "/dev/null",
                 "-w", "%{size_download}", env.url(target)],
                timeout=30,
            )  # fmt: skip
            assert r.returncode == 0 and int(r.stdout) == size, r
