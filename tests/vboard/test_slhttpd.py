"""SLHTTPD inside the e1000 driver (ndiv) answering HTTP from the host through QEMU.

Proof that the in-kernel server answers, not a user-space one: its counters rise
with the requests, and the guest's TCP stack has no socket listening on port 80.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

BAD_KERNEL_LINES = re.compile(r"WARNING:|Oops|BUG:|Internal error|Call trace|Kernel panic")

pytestmark = pytest.mark.usefixtures("slhttpd_module")


def counters(vboard) -> dict[str, int]:
    out = vboard.strategy.shell.check("cat /sys/kernel/slhttpd/counters")
    return {name: int(value) for name, value in (line.split() for line in out.splitlines())}


def answered(c: dict[str, int]) -> int:
    return c["req_keepalive"] + c["req_close"]


def curl(port: int, path: str = "/1k", retries_for: float = 20.0) -> tuple[int, int]:
    """(HTTP status, body bytes) of a GET from the host; retries while the link comes up."""
    deadline = time.monotonic() + retries_for
    while True:
        proc = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "--max-time",
                "5",
                "-w",
                "%{http_code} %{size_download}",
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            timeout=15,
        )
        code, size = (int(x) for x in proc.stdout.split()) if proc.stdout else (0, 0)
        if code or time.monotonic() > deadline:
            return code, size
        time.sleep(1)


def ndiv_table(vboard) -> dict[str, dict[str, str]]:
    """/proc/net/ndiv as {dev: {column: value}} (columns: dev app rx pass drop reply ...)."""
    lines = vboard.strategy.shell.check("cat /proc/net/ndiv").splitlines()
    header = lines[0].split()
    return {row.split()[0]: dict(zip(header, row.split(), strict=False)) for row in lines[1:]}


def listening_on_80(vboard) -> list[str]:
    out = vboard.strategy.shell.check("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null")
    lines = []
    for line in out.splitlines()[1:]:
        f = line.split()
        if len(f) > 3 and f[1].endswith(":0050") and f[3] == "0A":
            lines.append(line)
    return lines


def dmesg_bad(vboard) -> list[str]:
    return [
        ln for ln in vboard.strategy.shell.kernel_log().splitlines() if BAD_KERNEL_LINES.search(ln)
    ]


def wrk(port: int, seconds: int, close: bool) -> dict[str, float]:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is missing: apt-get install wrk")
    cmd = ["wrk", "-t1", "-c8", f"-d{seconds}s", "--timeout", "5s"]
    if close:
        cmd += ["-H", "Connection: close"]
    proc = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}/1k"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    out = proc.stdout
    m = re.search(r"(\d+) requests in", out)
    assert m, out + proc.stderr
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(m.group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "output": out,  # type: ignore[dict-item]
    }


def test_slhttpd_attached_to_both_nics(vboard):
    assert "rcS: slhttpd loaded" in vboard.strategy.boot_log
    attached = vboard.strategy.shell.check("cat /sys/kernel/slhttpd/attached").split()
    assert "eth0" in attached and "eth1" in attached
    apps = {dev: row["app"] for dev, row in ndiv_table(vboard).items()}
    assert apps == {"eth0": "slhttpd", "eth1": "slhttpd"}


def test_curl_answered_in_the_driver_not_by_a_socket(vboard):
    assert not listening_on_80(vboard), "something listens on port 80 in the guest"
    before, ndiv_before = counters(vboard), ndiv_table(vboard)["eth0"]
    code, size = curl(vboard.board.http_port, "/1k")
    assert (code, size) == (200, 1024)
    after, ndiv_after = counters(vboard), ndiv_table(vboard)["eth0"]
    assert answered(after) > answered(before)
    assert after["syn"] > before["syn"]
    # ndiv's own view: eth0 frames answered by REPLY, forged frames transmitted.
    assert int(ndiv_after["reply"]) > int(ndiv_before["reply"])
    assert int(ndiv_after["tx_frames"]) > int(ndiv_before["tx_frames"])
    assert not listening_on_80(vboard)


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "close"])
def test_wrk_is_answered_by_slhttpd(vboard, close):
    curl(vboard.board.http_port)  # link up
    before = counters(vboard)
    result = wrk(vboard.board.http_port, 3, close)
    print(result["output"])
    after = counters(vboard)
    assert result["requests"] > 50, result["output"]
    assert result["non2xx"] == 0, result["output"]
    key = "req_close" if close else "req_keepalive"
    # Every request wrk completed was answered in the driver (give or take the few a
    # connection had in flight when wrk stopped, or answered as retransmissions).
    delta = after[key] - before[key] + after["req_retrans"] - before["req_retrans"]
    assert abs(delta - result["requests"]) <= 8 + result["requests"] // 100, (
        before,
        after,
        result["output"],
    )
    assert not dmesg_bad(vboard)


def test_module_unload_and_reload_while_wrk_runs(vboard):
    curl(vboard.board.http_port)
    params = vboard.strategy.shell.check("grep -v '^#' /etc/slhttpd.conf | grep = | tr '\\n' ' '")
    load = subprocess.Popen(
        [
            "wrk",
            "-t1",
            "-c8",
            "-d12s",
            "--timeout",
            "2s",
            f"http://127.0.0.1:{vboard.board.http_port}/1k",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(2)
        for _ in range(3):
            vboard.strategy.shell.check("rmmod slhttpd", timeout=30)
            time.sleep(1)
            vboard.strategy.shell.check(f"insmod /lib/modules/slhttpd.ko {params}", timeout=30)
            time.sleep(1)
        out, _ = load.communicate(timeout=40)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait(5)
    assert re.search(r"\d+ requests in", out), out
    assert not dmesg_bad(vboard)
    attached = vboard.strategy.shell.check("cat /sys/kernel/slhttpd/attached").split()
    assert "eth0" in attached
    assert curl(vboard.board.http_port) == (200, 1024)


def test_module_refuses_an_empty_address_and_serves_any(vboard):
    """PROTOCOL.md "Who is answered": no address is no longer "every destination": the
    module refuses to load without addr=, serves every unicast destination with addr=any, and
    is back on /etc/slhttpd.conf's settings at the end."""
    shell = vboard.strategy.shell
    params = shell.check("grep -v '^#' /etc/slhttpd.conf | grep = | tr '\\n' ' '")
    no_addr = " ".join(p for p in params.split() if not p.startswith("addr="))
    assert no_addr != params.strip(), f"slhttpd.conf sets no addr: {params}"
    shell.check("rmmod slhttpd", timeout=30)
    try:
        status, out = shell.run(f"insmod /lib/modules/slhttpd.ko {no_addr}", timeout=30)
        assert status != 0, f"loaded without an address: {out}"
        # the reason is in the kernel log
        assert "addr is required" in shell.kernel_log(), f"no reason in the kernel log ({out})"
        shell.check(f"insmod /lib/modules/slhttpd.ko {no_addr} addr=any", timeout=30)
        assert shell.check("cat /sys/module/slhttpd/parameters/addr") == "any"
        assert curl(vboard.board.http_port) == (200, 1024)
    finally:
        shell.run("rmmod slhttpd", timeout=30)
        shell.check(f"insmod /lib/modules/slhttpd.ko {params}", timeout=30)
    assert curl(vboard.board.http_port) == (200, 1024)
    assert not dmesg_bad(vboard)


def test_first_flight_parameter(vboard):
    """first_flight= (PROTOCOL.md "First flight"): at run time through sysfs; a value above
    the burst limit is refused with its reason in the kernel log and the old one stays; with a
    first flight of one segment, and of the whole burst (0), responses are still complete."""
    shell = vboard.strategy.shell
    param = "/sys/module/slhttpd/parameters/first_flight"
    assert shell.check(f"cat {param}") == "10"
    try:
        status, out = shell.run(f"echo 49 > {param}", timeout=30)
        assert status != 0, f"first_flight=49 accepted: {out}"
        assert "first_flight=49 out of range" in shell.kernel_log()
        assert shell.check(f"cat {param}") == "10"
        for value in ("1", "0"):
            shell.check(f"echo {value} > {param}", timeout=30)
            assert curl(vboard.board.http_port, "/64k") == (200, 65536), value
    finally:
        shell.run(f"echo 10 > {param}", timeout=30)
    assert shell.check(f"cat {param}") == "10"
    assert not dmesg_bad(vboard)
