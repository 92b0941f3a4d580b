"""``linerate vboard --tap`` as a user runs it: it prints the namespace and the curl line, the
curl works from that namespace, and Ctrl-C (or a killed process) leaves no namespace or tap."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from procio import read_until

from linerate import ROOT
from linerate.host import netns
from linerate.host.body import body
from linerate.vboard import tap
from linerate.vboard.launcher import free_port


def _root_links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def _start(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "linerate", "vboard", "--tap", "--http-port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _curl_try_line(line: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the printed try-line (curl made quiet, with its status), until the board answers."""
    argv = [*line.split()[:-1], "-s", "--max-time", "3", "-w", "\n%{http_code}", line.split()[-1]]
    deadline = time.monotonic() + timeout
    while True:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        if r.stdout.endswith("\n200") or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


@pytest.mark.usefixtures("slhttpd_module")
def test_tap_cli_try_line_works_and_ctrl_c_cleans_up(vboard_images):
    proc = _start(free_port())
    try:
        text = read_until(proc, r"^vboard: try: .*$", 120, re.M)
        ns = re.search(r"network namespace (lrvb-\d+-\d+)", text)
        assert ns, text
        line = re.search(r"^vboard: try:\s+(ip netns exec \S+ curl http://\S+/1k)$", text, re.M)
        assert line, text
        assert f"ip netns exec {ns.group(1)} " in line.group(1)
        assert netns.ns_exists(ns.group(1))
        r = _curl_try_line(line.group(1))
        assert r.stdout == body(1024).decode() + "\n200", r
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, rest
    assert "vboard: stopped" in rest
    assert not netns.ns_exists(ns.group(1)), "namespace left after Ctrl-C"
    assert tap.IFNAME not in _root_links()


def test_a_killed_run_leaves_a_namespace_the_next_one_deletes(vboard_images):
    """SIGKILL: QEMU dies with its parent (PR_SET_PDEATHSIG) and the tap with QEMU; the named
    namespace stays until the next cable is made (its pid is in its name)."""
    proc = _start(free_port())
    try:
        text = read_until(proc, r"^vboard: try: .*$", 120, re.M)
        ns = re.search(r"network namespace (lrvb-\d+-\d+)", text)
        assert ns, text
        qemu = int(re.search(r"QEMU pid (\d+)", text).group(1))  # type: ignore[union-attr]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{qemu}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert netns.ns_exists(ns.group(1))
    assert ns.group(1) in tap.prune_stale()
    assert not netns.ns_exists(ns.group(1))


def test_tap_refuses_clearly_without_root(vboard_images):
    """Without CAP_NET_ADMIN (root with every capability dropped): what --tap needs, said
    before anything is built."""
    r = subprocess.run(
        ["setpriv", "--bounding-set=-all", "--inh-caps=-all",
         sys.executable, "-m", "linerate", "vboard", "--tap"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "CAP_NET_ADMIN" in out and "run as root" in out, out
    assert "images ready" not in out
