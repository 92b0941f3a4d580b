"""wrk against slhttpd-host (ASan build): keep-alive and close mode, no errors at all."""

from __future__ import annotations

import pytest
from hostenv import HostEnv

from linerate.host import netns
from linerate.host.wrk import parse_wrk, wrk_argv


@pytest.mark.parametrize(
    ("target", "close"),
    [("/1k", False), ("/64", False), ("/20000", False), ("/1k", True), ("/0", True)],
)
def test_wrk(env: HostEnv, target: str, close: bool) -> None:
    before = env.stats()
    r = env.client(wrk_argv(env.url(target), seconds=3, conns=16, close=close), timeout=30)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    res = parse_wrk(out)
    assert res.requests > 100, out
    assert res.socket_errors == {}, out
    assert res.non_2xx == 0, out
    after = env.stats()
    # Keep-alive connections switch to close mode after SL_CONN_SPAN bytes: count both.
    served = sum(after[k] - before[k] for k in ("req_close", "req_keepalive"))
    # wrk counts completed responses; at most one request per connection is in flight at stop.
    assert res.requests <= served <= res.requests + 16, (served, out)
    syns = after["syn"] - before["syn"]
    if close:
        assert after["req_keepalive"] == before["req_keepalive"]
        assert syns >= res.requests
    else:
        assert syns <= 16 + served // 50, "keep-alive connections were not reused"
    assert after["fe_tx_errors"] == before["fe_tx_errors"]


def test_no_kernel_answers_for_the_address(env: HostEnv) -> None:
    """The server namespace's kernel has no address and no socket: it never answers.

    tcpdump in the server namespace would see our frames too, so check the kernel instead:
    no IPv4 address and no forwarding there, and no TCP reset sent by its stack.
    """
    addrs = netns.run(["ip", "-n", env.topo.server_ns, "-4", "addr", "show"])
    assert "inet " not in addrs.replace("inet 127.0.0.1", ""), addrs
    fwd = netns.run(netns.in_ns(env.topo.server_ns, ["sysctl", "-n", "net.ipv4.ip_forward"]))
    assert fwd.strip() == "0"
    before = _out_rsts(env)
    r = env.client(wrk_argv(env.url("/1k"), seconds=1, conns=4, close=True), timeout=20)
    assert parse_wrk(r.stdout.decode()).requests > 0
    assert _out_rsts(env) == before, "the server namespace's kernel sent TCP resets"


def _out_rsts(env: HostEnv) -> tuple[int, int]:
    snmp = netns.run(netns.in_ns(env.topo.server_ns, ["cat", "/proc/net/snmp"]))
    lines = [ln.split() for ln in snmp.splitlines() if ln.startswith("Tcp:")]
    names, values = lines[0], lines[1]
    return int(values[names.index("OutRsts")]), int(values[names.index("OutSegs")])
