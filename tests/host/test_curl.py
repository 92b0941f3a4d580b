"""curl against slhttpd-host: sizes, HEAD, size syntaxes, error statuses, ports."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hostenv import HostEnv
from slhttpd_expect import BODY_LIMIT, body, size_of, split_response

SIZES = [0, 1, 63, 64, 65, 100, 1000, 1023, 1024, 1450, 1451, 1452, 1460, 1461, 2902, 4096,
         10000, 30000, 65535, 65536, 100000, BODY_LIMIT]  # fmt: skip


def curl(env: HostEnv, url: str, *opts: str) -> tuple[int, bytes, bytes]:
    """HTTP status, body and headers of one curl request from the client namespace."""
    with tempfile.TemporaryDirectory() as tmp:
        out, hdr = Path(tmp, "body"), Path(tmp, "headers")
        r = env.client(
            ["curl", "-s", "--max-time", "20", "-o", str(out), "-D", str(hdr),
             "-w", "%{http_code}", *opts, url],
            timeout=30,
        )  # fmt: skip
        assert r.returncode == 0, f"curl {url}: exit {r.returncode} {r.stderr!r}"
        return int(r.stdout), out.read_bytes(), hdr.read_bytes()


@pytest.mark.parametrize("size", SIZES)
def test_get_sizes(env: HostEnv, size: int) -> None:
    before = env.stats()
    status, data, hdr = curl(env, env.url(f"/{size}"))
    assert status == 200
    assert len(data) == size
    assert data == body(size), "body differs from the pattern"
    _, headers, _ = split_response(hdr)
    assert headers["content-length"] == str(size)
    after = env.stats()
    served = sum(after[k] - before[k] for k in ("req_keepalive", "req_close"))
    assert served == 1, f"requests counted {served}, made 1"
    assert after["syn"] - before["syn"] == 1


@pytest.mark.parametrize(
    "target", ["/", "/1k", "/2K", "/?s=64", "/?s=3k", "/?a=b&s=100", "/any?x=1&s=1k"]
)
def test_size_syntax(env: HostEnv, target: str) -> None:
    status, data, _ = curl(env, env.url(target))
    assert status == 200
    assert data == body(size_of(target))


@pytest.mark.parametrize("size", [0, 64, 1024, 100000])
def test_head(env: HostEnv, size: int) -> None:
    before = env.stats()
    status, data, hdr = curl(env, env.url(f"/{size}"), "-I")
    assert status == 200
    assert data == hdr  # -I: the "body" file holds the headers again
    _, headers, rest = split_response(hdr)
    assert headers["content-length"] == str(size)
    assert rest == b""
    assert env.stats()["head"] - before["head"] == 1


@pytest.mark.parametrize("port", [80, 8000, 8080, 8999])
def test_served_ports(env: HostEnv, port: int) -> None:
    status, data, _ = curl(env, env.url("/64", port=port))
    assert (status, data) == (200, body(64))


@pytest.mark.parametrize("port", [81, 7999, 9000])
def test_unserved_port_gets_nothing(env: HostEnv, port: int) -> None:
    """Not our port: passed to the (address-less) kernel, so the connection times out."""
    before = env.stats()
    r = env.client(["curl", "-s", "--connect-timeout", "1", env.url("/64", port=port)], timeout=10)
    assert r.returncode == 28, f"expected a connect timeout, got exit {r.returncode}"
    after = env.stats()
    assert after["syn"] == before["syn"]
    assert after["pass"] > before["pass"]


@pytest.mark.parametrize(
    ("opts", "target", "status", "counter"),
    [
        ((), "/nothing", 404, "err_404"),
        ((), "/12x", 404, "err_404"),
        ((), f"/{BODY_LIMIT + 1}", 413, "err_413"),
        ((), "/1m", 413, "err_413"),
        (("-X", "POST"), "/64", 405, "err_405"),
        (("-X", "DELETE"), "/64", 405, "err_405"),
        (("-X", "G@T"), "/64", 400, "err_400"),
        ((), "/?s=abc", 400, "err_400"),
    ],
)
def test_errors(
    env: HostEnv, opts: tuple[str, ...], target: str, status: int, counter: str
) -> None:
    before = env.stats()
    got, _, hdr = curl(env, env.url(target), *opts)
    assert got == status
    _, headers, _ = split_response(hdr)
    assert headers["connection"] == "close", "errors are sent in close mode"
    assert env.stats()[counter] - before[counter] == 1


def test_http10_is_close_mode(env: HostEnv) -> None:
    status, data, hdr = curl(env, env.url("/300"), "-0")
    assert (status, data) == (200, body(300))
    _, headers, _ = split_response(hdr)
    assert headers["connection"] == "close"


def test_curl_keepalive_reuses_connection(env: HostEnv) -> None:
    """Several URLs in one curl: one connection (one SYN), every body right."""
    sizes = [10, 2000, 0, 70000, 5]
    before = env.stats()
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["curl", "-s", "--max-time", "30"]
        for i, s in enumerate(sizes):
            argv += ["-o", f"{tmp}/{i}", env.url(f"/{s}")]
        r = env.client(argv, timeout=40)
        assert r.returncode == 0, r.stderr
        for i, s in enumerate(sizes):
            assert Path(tmp, str(i)).read_bytes() == body(s), f"object {s}"
    after = env.stats()
    assert after["syn"] - before["syn"] == 1
    assert after["req_keepalive"] - before["req_keepalive"] == len(sizes)


@pytest.mark.skipif(shutil.which("ping") is None, reason="ping (iputils-ping) missing")
def test_ping_and_arp(env: HostEnv) -> None:
    """The frontend answers ARP and ICMP echo for its address (the kernel has none)."""
    before = env.stats()
    r = env.client(["ping", "-c", "3", "-i", "0.2", "-W", "2", env.addr], timeout=20)
    assert r.returncode == 0, r.stdout
    assert env.stats()["icmp"] - before["icmp"] == 3
    neigh = env.client(["ip", "neigh", "show", env.addr]).stdout.decode()
    assert env.topo.server_mac in neigh
