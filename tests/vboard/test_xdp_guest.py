"""SLHTTPD's XDP frontend inside the guest, on its virtio-net test port, for real clients.

One board boot with ``--nic virtio --tap`` (the test port eth1 cabled to a tap in a network
namespace, as test_tap.py). SLHTTPD's kernel module is taken off eth1 (ndiv and XDP exclude
each other on a device) and ``slhttpd-host --mode xdp`` (cross-built for armhf, in the
initramfs: linerate/vboard/xdpfront.py) serves eth1 with the XDP program built without the
request parser (``slhttpd_xdp_noparse.o``: the parser's bpf_loop() callback cannot load on
32-bit ARM, which the full object's refusal below shows). Clients in the namespace: curl
(byte-exact bodies), http.client keep-alive, wrk and ab -k (bounded). The frontend's counters
prove which path answered: the XDP program's frames are the core's ``rx`` less the frames
userspace read from the AF_XDP socket (``rx_frames``), and the frames the guest sent on the
cable beyond userspace's ``tx_frames`` are XDP_TX'd (every SYN-ACK among them: a SYN never
reaches the socket). slhttpd/xdp/README.md "On the virtual board" has the numbers.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from test_tap import ARTIFACTS, BAD_KERNEL_LINES, TEST_IF, Cabled, KeepAlive, ab, curl

from linerate.board.strategy import State
from linerate.board.target import VirtualTarget
from linerate.host.body import body
from linerate.host.wrk import parse_wrk, wrk_argv
from linerate.vboard import xdpfront
from linerate.vboard.images import BoardImages

pytestmark = pytest.mark.usefixtures("slhttpd_module")

OBJ = "/" + xdpfront.GUEST_OBJ
OBJ_FULL = "/" + xdpfront.GUEST_OBJ_FULL
STATS = "/tmp/xdp-stats.json"
#: Measured (test_virtio_net_gives_room_to_grow_a_frame): the guest's virtio-net lets XDP
#: grow a frame to 1514 bytes.
ROOM_1514 = True
LOG = "/tmp/xdp.log"
SERVE = (
    f"slhttpd-host --mode xdp --iface {TEST_IF} --addr 10.0.2.15 --ports 80 "
    # 10.0.2.15 is also the guest stack's address on eth0 (slirp): the frontend refuses a
    # local address unless told; frames for it on eth1 never reach the stack (XDP).
    "--allow-local-addr"
)


@dataclass
class XdpGuest:
    """The board, its cable and the running frontend's pid."""

    cab: Cabled
    pid: int
    banner: str

    def sh(self, command: str, timeout: float = 30) -> str:
        return self.cab.target.strategy.shell.check(command, timeout=timeout)

    def stats(self) -> dict[str, dict[str, int]]:
        """The frontend's counters (--stats-json, rewritten on SIGUSR1)."""
        self.sh(f"rm -f {STATS}; kill -USR1 {self.pid}")
        deadline = time.monotonic() + 10
        while True:
            out = self.sh(f"cat {STATS} 2>/dev/null || true")
            if out.strip().endswith("}"):
                data: dict[str, dict[str, int]] = json.loads(out)
                return data
            assert time.monotonic() < deadline, f"no {STATS} after SIGUSR1"
            time.sleep(0.3)

    def tap_rx(self) -> int:
        """Frames the namespace's end of the cable received (all the guest sent on eth1)."""
        return self.cab.frames_in()


def start(cab: Cabled, extra: str = "", jit: int = 1) -> tuple[int, str]:
    """Start the frontend in the background; (pid, its start lines) once it serves."""
    sh = cab.target.strategy.shell
    sh.check(f"echo {jit} > /proc/sys/net/core/bpf_jit_enable")
    pid = int(
        sh.check(f"{SERVE} --xdp-obj {OBJ} --stats-json {STATS} {extra} > {LOG} 2>&1 & echo $!")
    )
    deadline = time.monotonic() + 60  # the verifier on a TCG-emulated CPU: seconds
    while True:
        log = sh.check(f"cat {LOG}")
        if "slhttpd-host: serving" in log:
            return pid, log
        status, _ = sh.run(f"kill -0 {pid}")
        assert status == 0, f"slhttpd-host exited:\n{log}"
        assert time.monotonic() < deadline, f"slhttpd-host not serving after 60 s:\n{log}"
        time.sleep(1)


def runtime_line(log: str, prog: str) -> str:
    """slhttpd-host's line on how the kernel runs ``prog`` (JIT or interpreter)."""
    lines = [ln for ln in log.splitlines() if ln.startswith(f"slhttpd-host: {prog}: ")]
    assert len(lines) == 1, log
    return lines[0]


def stop(cab: Cabled, pid: int) -> str:
    sh = cab.target.strategy.shell
    status, out = sh.run(f"kill {pid}")
    assert status == 0, f"slhttpd-host (pid {pid}) is not running: {out}"
    deadline = time.monotonic() + 20
    while sh.run(f"kill -0 {pid}")[0] == 0:
        assert time.monotonic() < deadline, "slhttpd-host did not exit on SIGTERM"
        time.sleep(0.5)
    return sh.check(f"cat {LOG}")


@pytest.fixture(scope="module")
def guest(vboard_images: BoardImages) -> Iterator[XdpGuest]:
    for tool in ("curl", "wrk", "ab"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run scripts/deps.sh (scripts/apt-packages.txt)")
    transcript = ARTIFACTS / "test_xdp_guest.log"
    transcript.parent.mkdir(parents=True, exist_ok=True)
    transcript.unlink(missing_ok=True)
    t0 = time.monotonic()
    with VirtualTarget(
        images=vboard_images, transcript=transcript, boot_to=State.SHELL, nic="virtio", tap=True
    ) as target:
        cable = target.vboard.cable
        assert cable is not None, "the board has no tap cable"
        cab = Cabled(target, cable, "virtio")
        sh = target.strategy.shell
        if sh.run(f"test -x /{xdpfront.GUEST_BINARY}")[0] != 0:
            pytest.fail(
                f"no /{xdpfront.GUEST_BINARY} in the initramfs: it needs "
                f"{xdpfront.CROSS_CC} and {', '.join(xdpfront.BPF_TOOLS)} (scripts/deps.sh)"
            )
        # SLHTTPD's module off the test port: XDP and ndiv exclude each other on a device.
        sh.check("echo eth0 > /sys/module/slhttpd/parameters/ifaces")
        assert TEST_IF not in sh.check("cat /sys/kernel/slhttpd/attached").split()
        booted = time.monotonic() - t0
        pid, banner = start(cab)
        deadline = time.monotonic() + 30
        while curl(cab, "/1k", max_time=3)[0] != 200:
            assert time.monotonic() < deadline, f"no answer over the cable in 30 s:\n{banner}"
            time.sleep(0.5)
        xg = XdpGuest(cab, pid, banner)
        yield xg
        stop(cab, xg.pid)  # the tests below restart it
        print(f"\nboard up in {booted:.1f} s, XDP tests {time.monotonic() - t0 - booted:.1f} s")


def test_the_frontend_runs_jit_compiled_on_eth1(guest: XdpGuest) -> None:
    assert "slhttpd-host: serving 10.0.2.15 ports 80 on eth1 (xdp," in guest.banner, guest.banner
    # Both programs JIT-compiled by the ARM32 JIT (net.core.bpf_jit_enable=1): no
    # subprogram in the no-parser object, so nothing in it the JIT leaves out.
    for prog in ("slhttpd_xdp", "slhttpd_xdp_emit"):
        line = runtime_line(guest.banner, prog)
        assert ", JIT-compiled (" in line, guest.banner
    # Attached in native (driver) mode: the kernel refuses a generic-mode program beside it
    # (xdptoggle attaches one; busybox's ip shows no XDP).
    status, out = guest.cab.target.strategy.shell.run(f"xdptoggle attach {TEST_IF}")
    assert status != 0 and "Native and generic XDP can't be active at the same time" in out, out


def test_curl_every_size_byte_exact(guest: XdpGuest) -> None:
    s0, tap0 = guest.stats(), guest.tap_rx()
    sizes = (0, 64, 1024, 1443, 10000, 65536, 131072)
    for size in sizes:
        status, data = curl(guest.cab, f"/{size}")
        assert status == 200, f"size {size}"
        assert data == body(size), f"size {size}: {len(data)} bytes, body differs"
    s1, tap1 = guest.stats(), guest.tap_rx()
    core = {k: s1["core"][k] - s0["core"][k] for k in s1["core"]}
    fe = {k: s1["frontend"][k] - s0["frontend"][k] for k in s1["frontend"]}
    print(core, fe, tap1 - tap0)
    assert core["syn"] == len(sizes), core
    assert core["req_close"] + core["req_keepalive"] == len(sizes), core
    # The XDP program finished frames itself (each SYN, the client's ACKs, FIN), and the
    # guest sent frames userspace did not: XDP_TX (the SYN-ACKs at least).
    xdp_finished = core["rx"] - fe["rx_frames"]
    assert xdp_finished >= 3 * len(sizes), (core, fe)
    assert (tap1 - tap0) - fe["tx_frames"] >= len(sizes), (core, fe, tap1 - tap0)


def test_http_client_keepalive_on_one_connection(guest: XdpGuest) -> None:
    sizes = [*range(0, 40), 1443, 1444, 2886, 10000, 65536, 131072]
    s0 = guest.stats()
    c = KeepAlive(guest.cab)
    try:
        c.get_bodies(sizes)
        status, headers, data = c.get("/1k", method="HEAD")
        assert (status, headers["content-length"], data) == (200, "1024", b"")
    finally:
        c.close()
    s1 = guest.stats()
    core = {k: s1["core"][k] - s0["core"][k] for k in s1["core"]}
    assert c.connections == 1
    assert core["syn"] == 1, core
    assert len(sizes) + 1 <= core["req_keepalive"] <= len(sizes) + 1 + 4, core


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "close"])
def test_wrk(guest: XdpGuest, close: bool) -> None:
    s0, tap0 = guest.stats(), guest.tap_rx()
    r = guest.cab.client(*wrk_argv(guest.cab.cable.url("/1k"), 3, 8, close=close), timeout=40)
    result = parse_wrk(r.stdout)
    print(result.output)
    s1, tap1 = guest.stats(), guest.tap_rx()
    core = {k: s1["core"][k] - s0["core"][k] for k in s1["core"]}
    fe = {k: s1["frontend"][k] - s0["frontend"][k] for k in s1["frontend"]}
    print(core, fe, tap1 - tap0)
    assert result.socket_errors == {}, result.output
    assert result.non_2xx == 0, result.output
    assert result.requests > 100, result.output
    assert result.bytes >= result.requests * 1024
    answered = core["req_close"] + core["req_keepalive"] + core["req_retrans"]
    assert abs(answered - result.requests) <= 16 + result.requests // 100, core
    assert core["err_400"] == 0, core
    xdp_tx = (tap1 - tap0) - fe["tx_frames"]
    if close:
        assert core["syn"] >= result.requests
        assert xdp_tx >= result.requests, (core, fe, tap1 - tap0)  # SYN-ACKs, FIN-ACKs
    else:
        # 8 connections, each re-opened when the server answered in close mode near the end
        # of its sequence span (SL_CONN_SPAN - 2 * SL_BODY_LIMIT: 1.75 MiB of responses), as
        # in test_tap.py.
        closed = core["req_close"]
        assert closed <= core["syn"] <= 8 + closed + 8, core
        assert core["syn"] <= 8 + result.bytes // (1792 << 10) + 8, core
    assert core["rx"] - fe["rx_frames"] > 0


def test_ab_keepalive(guest: XdpGuest) -> None:
    s0 = guest.stats()
    result = ab(guest.cab, 1000, 8, "/2k")
    s1 = guest.stats()
    assert result["complete"] == 1000 and result["failed"] == 0 and result["non2xx"] == 0
    assert result["keepalive"] == 1000 and result["html_bytes"] == 1000 * 2048
    assert s1["core"]["req_keepalive"] - s0["core"]["req_keepalive"] >= 1000
    assert s1["core"]["syn"] - s0["core"]["syn"] == 8


def test_full_object_and_xdp_requests_are_refused(guest: XdpGuest) -> None:
    """The object with the request parser does not load on 32-bit ARM (its bpf_loop()
    callback is a subprogram beside a tail call); --xdp-requests needs that parser."""
    sh = guest.cab.target.strategy.shell
    status, out = sh.run(f"{SERVE} --xdp-obj {OBJ_FULL} 2>&1", timeout=120)
    assert status != 0 and "loading the XDP program (verifier)" in out, out
    # The kernel's reason: the parser's bpf_loop() callback is a bpf-to-bpf call, and the
    # ARM32 JIT has none (bpf_jit_supports_subprog_tailcalls() is false on arm).
    assert "tail_calls are not allowed in non-JITed programs with bpf-to-bpf calls" in out, out
    status, out = sh.run(f"{SERVE} --xdp-obj {OBJ} --xdp-requests 2>&1", timeout=120)
    assert status != 0 and "--xdp-requests" in out and "no request parser" in out, out
    # The frontend on eth1 was not disturbed.
    assert curl(guest.cab, "/64") == (200, body(64))


def test_interpreter_serves_too(guest: XdpGuest) -> None:
    """With the JIT off (net.core.bpf_jit_enable=0, the arm default) the interpreter runs the
    programs: restart the frontend so, and fetch."""
    cab = guest.cab
    stop(cab, guest.pid)
    # Detached on exit: a generic-mode program attaches now.
    assert guest.sh(f"xdptoggle attach {TEST_IF}") == "ok"
    assert guest.sh(f"xdptoggle detach {TEST_IF}") == "ok"
    try:
        guest.pid, banner = start(cab, jit=0)
        for prog in ("slhttpd_xdp", "slhttpd_xdp_emit"):
            assert "interpreted (not JIT-compiled)" in runtime_line(banner, prog), banner
        for size in (64, 1024, 65536):
            assert curl(cab, f"/{size}") == (200, body(size)), size
    finally:
        stop(cab, guest.pid)
        guest.pid, guest.banner = start(cab)


def pings(cab: Cabled) -> bool:
    """Whether the guest's stack on eth1 (10.0.3.15) answers a ping from the namespace
    (a fresh ARP first: its request must pass the probe too)."""
    cab.client("ip", "neigh", "flush", "dev", cab.cable.ifname)
    r = cab.client("ping", "-c", "2", "-W", "2", "10.0.3.15", timeout=20)
    return r.returncode == 0


def test_virtio_net_gives_room_to_grow_a_frame(guest: XdpGuest) -> None:
    """The question for XDP_TX of answers to requests: can bpf_xdp_adjust_tail() grow a
    received frame to a full one (1514 bytes) on virtio-net? xdptoggle's probe grows each
    frame shorter than N bytes to N and back, XDP_PASS if it could, else XDP_DROP: pings
    through it answer iff there was room. 4000 bytes (more than a page's buffer holds) must
    fail, or the probe proves nothing."""
    cab = guest.cab
    stop(cab, guest.pid)
    try:
        results = {}
        for n in (1514, 4000, 64):
            assert guest.sh(f"xdptoggle room {TEST_IF} {n}") == "ok"
            try:
                results[n] = pings(cab)
            finally:
                assert guest.sh(f"xdptoggle detach-native {TEST_IF}") == "ok"
        print(f"room to grow on virtio-net (size: pings answered): {results}")
        assert results == {1514: ROOM_1514, 4000: False, 64: True}, results
    finally:
        guest.pid, guest.banner = start(cab)
    assert curl(cab, "/1k") == (200, body(1024))


def test_no_kernel_warnings(guest: XdpGuest) -> None:
    log = guest.cab.target.strategy.shell.kernel_log()
    bad = [ln for ln in log.splitlines() if BAD_KERNEL_LINES.search(ln)]
    assert not bad, "\n".join(bad)
