"""`linerate serve` and slhttpd-host: clear errors for what the user got wrong."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from linerate.host import netns
from linerate.host.frontend import binary, build


def linerate(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "linerate", "serve", *args]
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                "--inh-caps=-all", *argv]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("ports", "hint"),
    [
        ("8999-8000", "low end comes first (8000-8999)"),
        ("70000", "1..65535"),
        ("abc", "expected a number or a range"),
        ("80,,81", "expected a number or a range"),
        ("0", "1..65535"),
    ],
)
def test_bad_ports(ports: str, hint: str) -> None:
    r = linerate("--iface", "lo", "--addr", "10.77.0.1", "--ports", ports)
    assert r.returncode == 2
    assert hint in r.stderr, r.stderr


def test_missing_interface() -> None:
    r = linerate("--iface", "nosuchif0", "--addr", "10.77.0.1")
    assert r.returncode == 1
    assert "no interface 'nosuchif0'" in r.stderr and "ip link" in r.stderr


def test_queues_only_in_xdp_mode() -> None:
    r = linerate("--iface", "lo", "--addr", "10.77.0.1", "--queues", "2")
    assert r.returncode == 2 and "--queues is for --mode xdp" in r.stderr, r.stderr


def test_bad_address() -> None:
    r = linerate("--iface", "lo", "--addr", "10.77.0")
    assert r.returncode == 2 and "not an IPv4 address" in r.stderr


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) missing")
def test_without_privileges() -> None:
    build()
    r = linerate("--iface", "lo", "--addr", "10.77.0.1", user="65534")
    assert r.returncode == 1
    assert "CAP_NET_RAW" in r.stderr and "root" in r.stderr
    r = linerate("--demo", user="65534")
    assert r.returncode == 1 and "CAP_NET_ADMIN" in r.stderr


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--ports", "8999-8000"], "low <= high"),
        (["--ports", "70000"], "1..65535"),
        (["--mss", "20"], "--mss"),
        (["--iface", "nosuchif0"], "no such interface"),
        (["--queues", "2"], "--queues is for --mode xdp"),
        (["--mode", "xdp", "--queues", "0"], "--queues: '0' is not a number in 1..64"),
        (["--mode", "xdp", "--xdp-requests=maybe"], "on, auto or off"),
    ],
)
def test_binary_errors(args: list[str], hint: str) -> None:
    build(asan=True, force=True, xdp="xdp" in args)
    argv = [str(binary(asan=True)), "--iface", "lo", "--addr", "10.77.0.1", *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode in (1, 2)
    assert hint in r.stderr, r.stderr


def test_binary_refuses_a_kernel_owned_address() -> None:
    """127.0.0.1 is on lo: the kernel would answer too, so the frontend refuses it."""
    build(asan=True)
    argv = [str(binary(asan=True)), "--iface", "lo", "--addr", "127.0.0.1"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 2
    assert "configured on kernel interface lo" in r.stderr


@pytest.mark.parametrize("mode", ["afpacket", "xdp"])
def test_demo_serves_and_cleans_up(mode: str) -> None:
    """`linerate serve --demo [--mode xdp]` (make run): namespaces, serving, Ctrl-C prints
    counters, cleans up (the XDP program detached with the namespaces)."""
    prefix = f"lrd{os.getpid() % 10000}{mode[0]}"
    topo = netns.Topology(prefix=prefix)
    proc = subprocess.Popen(
        [sys.executable, "-m", "linerate", "serve", "--demo", "--prefix", prefix, "--mode", mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not netns.ns_exists(topo.client_ns) or not _serving(topo):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "demo did not come up"
            time.sleep(0.2)
        r = subprocess.run(
            netns.in_ns(topo.client_ns, ["curl", "-s", "--max-time", "10", "http://10.77.0.1/1k"]),
            capture_output=True,
            timeout=20,
            check=False,
        )
        assert r.returncode == 0 and len(r.stdout) == 1024
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
        netns.destroy(topo)
    assert proc.returncode == 0, err
    assert f"ip netns exec {topo.client_ns} curl" in out
    assert "req_keepalive" in out and "slhttpd counters" in out
    assert not netns.ns_exists(topo.client_ns) and not netns.ns_exists(topo.server_ns)


def _serving(topo: netns.Topology) -> bool:
    r = subprocess.run(
        netns.in_ns(
            topo.client_ns,
            ["curl", "-s", "-o", "/dev/null", "--max-time", "1", "http://10.77.0.1/0"],
        ),  # fmt: skip
        capture_output=True,
        timeout=10,
        check=False,
    )
    return r.returncode == 0
