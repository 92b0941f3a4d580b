"""Real Linux TCP clients to SLHTTPD in the guest's driver over the test port as a cable.

The board is booted with ``tap=True`` (``linerate vboard --tap``): the guest's test port
(NIC1, eth1) is cabled to a tap in a network namespace of its own, and every client here runs
in that namespace, so its TCP (timestamps, SACK, window scaling, ECN, MSS) reaches the guest
kernel's driver directly, not QEMU's slirp. One board boot per NIC model of the test port
(``NIC_MODELS``); every client runs against it: curl, Python http.client keep-alive, wrk in
keep-alive and close mode, ``ab -k``, and clients with timestamps off, SACK off, ECN on and a
small MTU. Bodies are checked byte for byte against PROTOCOL.md's pattern, counts against
SLHTTPD's counters and ndiv's table for eth1.
"""

from __future__ import annotations

import http.client
import inspect
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from linerate import ROOT
from linerate.board.strategy import State
from linerate.board.target import VirtualTarget
from linerate.host import netns
from linerate.host.body import body
from linerate.host.wrk import parse_wrk, wrk_argv
from linerate.vboard import launcher
from linerate.vboard.images import BoardImages
from linerate.vboard.tap import TapCable

BAD_KERNEL_LINES = re.compile(r"WARNING:|Oops|BUG:|Internal error|Call trace|Kernel panic")
#: The guest's test port (cabled to the tap) and its management port (slirp).
TEST_IF, MGMT_IF = "eth1", "eth0"
ARTIFACTS = ROOT / "artifacts" / "vboard"


def _takes_nic(cls: type) -> bool:
    return "nic" in inspect.signature(cls).parameters


def nic_models() -> tuple[str, ...]:
    """The test port's NIC models: every one the launcher offers (``NIC_MODELS``, with
    ``--nic``), else QEMU's e1000 (the only model before ``--nic``)."""
    models = getattr(launcher, "NIC_MODELS", None)
    if models is None:
        if _takes_nic(launcher.VirtualBoard):
            raise AssertionError("VirtualBoard takes nic= but launcher has no NIC_MODELS")
        return ("e1000",)
    return tuple(models)


NIC_MODELS = nic_models()


def target_options(model: str) -> dict[str, Any]:
    """VirtualTarget's arguments for a board with the tap cable and ``model`` on its test port."""
    board: dict[str, Any] = {"tap": True}
    options: dict[str, Any] = {"board_options": board}
    if _takes_nic(VirtualTarget):
        options["nic"] = model
    elif _takes_nic(launcher.VirtualBoard):
        board["nic"] = model
    elif model != "e1000":
        raise AssertionError(f"no nic= for {model}")
    return options


pytestmark = pytest.mark.usefixtures("slhttpd_module")


@dataclass
class Cabled:
    """A booted board, its cable and the NIC model of its test port."""

    target: VirtualTarget
    cable: TapCable
    model: str

    @property
    def ns(self) -> str:
        return self.cable.netns

    def sh(self, command: str) -> str:
        return self.target.strategy.shell.check(command, timeout=30)

    def counters(self) -> dict[str, int]:
        out = self.sh("cat /sys/kernel/slhttpd/counters")
        return {name: int(value) for name, value in (ln.split() for ln in out.splitlines())}

    def ndiv(self, dev: str) -> dict[str, int]:
        """/proc/net/ndiv's row of ``dev`` (numeric columns: rx pass drop reply tx_frames ...)."""
        lines = self.sh("cat /proc/net/ndiv").splitlines()
        header = lines[0].split()
        for row in lines[1:]:
            cells = dict(zip(header, row.split(), strict=False))
            if cells.get("dev") == dev:
                return {k: int(v) for k, v in cells.items() if v.isdigit()}
        raise AssertionError(f"no {dev} in /proc/net/ndiv:\n{lines}")

    def dmesg_bad(self) -> list[str]:
        return [
            ln
            for ln in self.target.strategy.shell.kernel_log().splitlines()
            if BAD_KERNEL_LINES.search(ln)
        ]

    def client(self, *argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """``argv`` run in the cable's namespace."""
        return subprocess.run(
            self.cable.argv(*argv), capture_output=True, text=True, timeout=timeout, check=False
        )

    def frames_in(self) -> int:
        """Frames the namespace's end of the cable received (from the guest)."""
        r = self.client("cat", f"/sys/class/net/{self.cable.ifname}/statistics/rx_packets")
        return int(r.stdout)


def answered(c: dict[str, int]) -> int:
    return c["req_keepalive"] + c["req_close"]


def curl(cab: Cabled, target: str, *opts: str, max_time: int = 10) -> tuple[int, bytes]:
    """(HTTP status, body) of one curl GET from the namespace."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "body")
        r = cab.client(
            "curl", "-s", "--max-time", str(max_time), "-o", str(out), "-w", "%{http_code}",
            *opts, cab.cable.url(target), timeout=max_time + 20,
        )  # fmt: skip
        data = out.read_bytes() if out.exists() else b""
        return (int(r.stdout) if r.stdout.strip().isdigit() else 0), data


class KeepAlive:
    """One http.client connection whose socket was made in the cable's namespace."""

    def __init__(self, cab: Cabled, timeout: float = 10.0) -> None:
        self.cab = cab
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.connections = 0

    def get(self, target: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        if self.conn is None:
            addr = self.cab.cable.guest_addr
            with netns.entered(self.cab.ns):
                sock = socket.create_connection((addr, 80), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conn = http.client.HTTPConnection(addr, 80, timeout=self.timeout)
            self.conn.sock = sock
            self.connections += 1
        self.conn.request(method, target)
        resp = self.conn.getresponse()
        data = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            self.close()
        return resp.status, headers, data

    def get_bodies(self, sizes: Iterable[int]) -> None:
        """GET /SIZE for each size on this connection: each a keep-alive 200 with its exact
        body."""
        for size in sizes:
            status, headers, data = self.get(f"/{size}")
            assert (status, headers["connection"]) == (200, "keep-alive"), f"size {size}"
            assert data == body(size), f"size {size}: {len(data)} bytes, body differs"

    def tcp_info(self) -> tuple[set[str], int]:
        """What the client's kernel negotiated on this connection (struct tcp_info): its TCP
        options ({"ts", "sack", "wscale", "ecn"}) and its sending MSS."""
        assert self.conn is not None and self.conn.sock is not None
        info = self.conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        bits = {"ts": 1, "sack": 2, "wscale": 4, "ecn": 8}  # TCPI_OPT_*
        (snd_mss,) = struct.unpack_from("I", info, 16)  # tcpi_snd_mss
        return {name for name, bit in bits.items() if info[5] & bit}, snd_mss

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def ab(cab: Cabled, n: int, c: int, target: str) -> dict[str, int]:
    """ab -k's summary as numbers; asserts it ran."""
    r = cab.client("ab", "-q", "-k", "-s", "10", "-n", str(n), "-c", str(c), cab.cable.url(target),
                   timeout=120)  # fmt: skip
    out = r.stdout + r.stderr
    fields = {
        "complete": r"Complete requests:\s+(\d+)",
        "failed": r"Failed requests:\s+(\d+)",
        "keepalive": r"Keep-Alive requests:\s+(\d+)",
        "non2xx": r"Non-2xx responses:\s+(\d+)",
        "html_bytes": r"HTML transferred:\s+(\d+) bytes",
    }
    result = {k: int(m.group(1)) if (m := re.search(p, out)) else 0 for k, p in fields.items()}
    assert r.returncode == 0 and result["complete"], f"ab failed ({r.returncode}):\n{out}"
    print(out)
    return result


@pytest.fixture(scope="module", params=NIC_MODELS, ids=lambda m: f"nic-{m}")
def cabled(request: pytest.FixtureRequest, vboard_images: BoardImages) -> Iterator[Cabled]:
    """A board booted to its shell with its test port cabled to a tap, per NIC model."""
    for tool in ("curl", "wrk", "ab", "ss"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run scripts/deps.sh (scripts/apt-packages.txt)")
    model: str = request.param
    t0 = time.monotonic()
    transcript = ARTIFACTS / f"test_tap-{model}.log"
    transcript.parent.mkdir(parents=True, exist_ok=True)
    transcript.unlink(missing_ok=True)
    with VirtualTarget(
        images=vboard_images,
        transcript=transcript,
        boot_to=State.SHELL,
        **target_options(model),
    ) as target:
        cable = target.vboard.cable
        assert cable is not None, "the board has no tap cable"
        cab = Cabled(target, cable, model)
        deadline = time.monotonic() + 30
        while curl(cab, "/1k", max_time=3)[0] != 200:
            assert time.monotonic() < deadline, "no answer over the cable in 30 s"
            time.sleep(0.5)
        booted = time.monotonic() - t0
        yield cab
        print(f"\nnic {model}: board up in {booted:.1f} s, tap tests "
              f"{time.monotonic() - t0 - booted:.1f} s")  # fmt: skip
    assert not netns.ns_exists(cable.netns), f"namespace {cable.netns} left after the board"


def test_the_cable_is_a_tap_in_its_own_namespace(cabled: Cabled) -> None:
    cable = cabled.cable
    assert netns.ns_exists(cabled.ns)
    link = cabled.client("ip", "-o", "link", "show", cable.ifname)
    assert link.returncode == 0 and ",UP,LOWER_UP>" in link.stdout, link  # QEMU holds it
    assert "tun" in cabled.client("ethtool", "-i", cable.ifname).stdout
    # Nothing of the cable in this (the root) namespace.
    root = subprocess.run(["ip", "link", "show", cable.ifname], capture_output=True, check=False)
    assert root.returncode != 0
    # The guest's stack has its test-port address and no TCP listener on port 80.
    assert "10.0.3.15/24" in cabled.sh(f"ip -o addr show {TEST_IF}")
    tcp = cabled.sh("cat /proc/net/tcp")
    assert not [ln for ln in tcp.splitlines() if ":0050 " in ln and ln.split()[3] == "0A"]


def test_curl_is_answered_in_the_driver_of_the_test_port(cabled: Cabled) -> None:
    before, test0, mgmt0 = cabled.counters(), cabled.ndiv(TEST_IF), cabled.ndiv(MGMT_IF)
    for size in (0, 1, 1024, 1443, 10000, 65536, 131072):
        status, data = curl(cabled, f"/{size}")
        assert status == 200, f"size {size}"
        assert data == body(size), f"size {size}: {len(data)} bytes, body differs"
    after, test1, mgmt1 = cabled.counters(), cabled.ndiv(TEST_IF), cabled.ndiv(MGMT_IF)
    assert answered(after) - answered(before) == 7
    assert after["syn"] - before["syn"] == 7
    assert test1["reply"] > test0["reply"] and test1["tx_frames"] > test0["tx_frames"]
    # Nothing of it went through the management port (slirp).
    assert mgmt1["reply"] == mgmt0["reply"]


def test_http_client_keepalive_every_size_on_one_connection(cabled: Cabled) -> None:
    sizes = [*range(0, 300), *(k * 1443 + d for k in (1, 2, 10, 11, 45) for d in (-1, 0, 1)),
             65535, 65536, 100000, 131072]  # fmt: skip
    before = cabled.counters()
    c = KeepAlive(cabled)
    try:
        c.get_bodies(sizes)
        status, headers, data = c.get("/1k", method="HEAD")
        assert (status, headers["content-length"], data) == (200, "1024", b"")
        options, mss = c.tcp_info()
    finally:
        c.close()
    after = cabled.counters()
    assert c.connections == 1
    assert after["syn"] - before["syn"] == 1
    # Each request answered; a request the client retransmitted after the whole response had
    # arrived is at the request state again and counted as a new one (PROTOCOL.md "The
    # answered-request filter": the kernel module has none), a few at most.
    ka = after["req_keepalive"] - before["req_keepalive"]
    diff = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    assert len(sizes) + 1 <= ka <= len(sizes) + 1 + 4, diff
    # A Linux client's options reached the guest: timestamps on (SLHTTPD echoes them; no SACK,
    # no window scaling from it), MSS 1460 less the timestamps' 12 bytes.
    assert (options, mss) == ({"ts"}, 1448)


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "close"])
def test_wrk(cabled: Cabled, close: bool) -> None:
    before = cabled.counters()
    r = cabled.client(*wrk_argv(cabled.cable.url("/1k"), 3, 8, close=close), timeout=40)
    result = parse_wrk(r.stdout)
    print(result.output)
    after = cabled.counters()
    assert result.socket_errors == {}, result.output
    assert result.non_2xx == 0, result.output
    assert result.requests > 500, result.output
    assert result.bytes >= result.requests * 1024
    key = "req_close" if close else "req_keepalive"
    delta = after[key] - before[key] + after["req_retrans"] - before["req_retrans"]
    # Every request wrk completed was answered in the driver (give or take the ones its
    # connections had in flight when it stopped).
    assert abs(delta - result.requests) <= 16 + result.requests // 100, (before, after)
    syns = after["syn"] - before["syn"]
    if close:
        assert syns >= result.requests
    else:
        # 8 connections, each re-opened when the server answered in close mode near the end
        # of its sequence span (SL_CONN_SPAN - 2 * SL_BODY_LIMIT: 1.75 MiB of responses).
        closed = after["req_close"] - before["req_close"]
        assert closed <= syns <= 8 + closed + 8, (before, after)
        assert syns <= 8 + result.bytes // (1792 << 10) + 8, (before, after)
    assert not cabled.dmesg_bad()


def test_ab_keepalive(cabled: Cabled) -> None:
    """The issue's measure: through slirp ab -k -n 3000 -c 8 /2k got 2,997 keep-alive
    answers of 3,000; over the cable every one is a keep-alive answer."""
    before = cabled.counters()
    result = ab(cabled, 3000, 8, "/2k")
    after = cabled.counters()
    assert result["complete"] == 3000 and result["failed"] == 0 and result["non2xx"] == 0
    assert result["keepalive"] == 3000, result
    assert result["html_bytes"] == 3000 * 2048
    assert after["req_keepalive"] - before["req_keepalive"] >= 3000
    assert after["syn"] - before["syn"] == 8


@dataclass(frozen=True)
class Variant:
    """A client TCP variant: sysctls in the namespace and/or the namespace side's MTU."""

    name: str
    sysctls: tuple[tuple[str, str], ...] = ()
    mtu: int = 1500
    #: Objects each client fetches (all answered 200, bytes exact).
    sizes: tuple[int, ...] = (0, 1, 1024, 1443, 2048, 10000)
    #: The TCP options the client's kernel negotiated with SLHTTPD, and its sending MSS.
    options: frozenset[str] = frozenset({"ts"})
    mss: int = 1448
    #: An object too large for this client's MSS: 413 (PROTOCOL.md "A response").
    too_large: int | None = None


VARIANTS = [
    # Without timestamps the window-edge rule (PROTOCOL.md "Limits"): objects of the first
    # flight (10 segments) here; larger ones in test_no_timestamps_large_objects.
    Variant("timestamps-off", (("net.ipv4.tcp_timestamps", "0"),), options=frozenset(),
            mss=1460),
    Variant("sack-off", (("net.ipv4.tcp_sack", "0"),), sizes=(0, 1, 1024, 10000, 65536, 131072)),
    # The client asks for ECN in its SYN; SLHTTPD's SYN-ACK does not agree: plain TCP.
    Variant("ecn-on", (("net.ipv4.tcp_ecn", "1"),), sizes=(0, 1, 1024, 10000, 65536, 131072)),
    # MTU 576: MSS 536 (524 with timestamps): 32 KiB fits 112 segments, 64 KiB does not.
    Variant("mtu-576", mtu=576, sizes=(0, 1, 1024, 10000, 32768), mss=524, too_large=65536),
]  # fmt: skip


@contextmanager
def variant_applied(cab: Cabled, v: Variant) -> Iterator[None]:
    old = [(name, cab.cable.sysctl(name, value)) for name, value in v.sysctls]
    old_mtu = cab.cable.mtu
    try:
        if v.mtu != old_mtu:
            cab.cable.set_mtu(v.mtu)
        yield
    finally:
        for name, value in old:
            cab.cable.sysctl(name, value)
        if cab.cable.mtu != old_mtu:
            cab.cable.set_mtu(old_mtu)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_client_variant(cabled: Cabled, variant: Variant) -> None:
    with variant_applied(cabled, variant):
        before = cabled.counters()
        c = KeepAlive(cabled, timeout=10)
        try:
            c.get_bodies(variant.sizes)
            options, mss = c.tcp_info()
            if variant.too_large is not None:
                status, headers, _ = c.get(f"/{variant.too_large}")
                assert (status, headers["connection"]) == (413, "close")
        finally:
            c.close()
        assert c.connections == 1
        assert (options, mss) == (variant.options, variant.mss)
        status, data = curl(cabled, "/2k")
        assert (status, data) == (200, body(2048))
        result = ab(cabled, 1000, 8, "/2k")
        assert result["complete"] == 1000 and result["failed"] == 0 and result["non2xx"] == 0
        assert result["keepalive"] == 1000 and result["html_bytes"] == 1000 * 2048
        after = cabled.counters()
        assert after["req_keepalive"] - before["req_keepalive"] >= len(variant.sizes) + 1000
    assert not cabled.dmesg_bad()
