"""The ndiv hooks of every NIC model the virtual board offers for its test port (eth1,
``linerate vboard --nic``): e1000, e1000e, igb and virtio-net (QEMU has no ixgbe: that
hook is only built, see test_kernel_build.py).

One board per model, its test port cabled to a tap in a network namespace
(``--tap``): curl there is a real Linux TCP client of the in-driver server. SLHTTPD
answers on eth1, its MSS follows eth1's MTU (MTU 1400, the client's MSS 1460: without
the clamp SLHTTPD's 1460-byte segments do not fit the frame ndiv gives it and nothing
past the head goes out), and it serves again after the driver is unbound and bound
under traffic, with /sys/kernel/slhttpd/attached telling the truth in between. ndiv and
XDP exclude each other on eth1 (xdptoggle, board/virt/tools/xdptoggle.c, loads a
two-instruction XDP_PASS program with bpf() and attaches it in generic mode through
rtnetlink): XDP is refused while SLHTTPD is attached, SLHTTPD while XDP is. ndiv obeys
BQL without losing replies: with eth1's byte queue limit forced to two frames, the reply
frames BQL holds back wait in the qdisc (``tx_qdisc``) and reach the wire, the bytes in
flight stay near the limit, and wrk and curl get every byte.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from linerate import ROOT
from linerate.board.strategy import State
from linerate.board.target import VirtualTarget
from linerate.host.body import body
from linerate.host.wrk import parse_wrk, wrk_argv
from linerate.vboard.images import BoardImages
from linerate.vboard.launcher import NIC1_MAC
from linerate.vboard.tap import TapCable

BAD_KERNEL_LINES = re.compile(r"WARNING:|Oops|BUG:|Internal error|Call trace|Kernel panic")
DRIVERS = {"e1000": "e1000", "e1000e": "e1000e", "igb": "igb", "virtio": "virtio_net"}

pytestmark = pytest.mark.usefixtures("slhttpd_module")


def transcript_path(name: str) -> Path:
    path = ROOT / "artifacts" / "vboard" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


@pytest.fixture(scope="module", params=tuple(DRIVERS))
def nic_board(
    request: pytest.FixtureRequest, vboard_images: BoardImages, slhttpd_module: None
) -> Iterator[VirtualTarget]:
    nic: str = request.param
    with VirtualTarget(
        images=vboard_images,
        transcript=transcript_path(f"test_nic_models-{nic}"),
        boot_to=State.SHELL,
        nic=nic,
        tap=True,
    ) as target:
        yield target


def cable(board: VirtualTarget) -> TapCable:
    assert board.vboard.cable is not None
    return board.vboard.cable


def curl(board: VirtualTarget, path: str, max_time: float = 20) -> tuple[int, int]:
    """(HTTP status, body bytes) of curl in the cable's namespace."""
    cab = cable(board)
    proc = subprocess.run(
        cab.argv(
            *("curl", "-s", "-o", "/dev/null", "--max-time", str(max_time)),
            *("-w", "%{http_code} %{size_download}", cab.url(path)),
        ),
        capture_output=True,
        text=True,
        timeout=max_time + 10,
    )
    code, size = (int(x) for x in proc.stdout.split()) if proc.stdout else (0, 0)
    return code, size


def curl_body(board: VirtualTarget, path: str, max_time: float = 20) -> tuple[int, bytes]:
    """(HTTP status, body) of curl in the cable's namespace."""
    cab = cable(board)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "body")
        proc = subprocess.run(
            cab.argv(
                *("curl", "-s", "-o", str(out), "--max-time", str(max_time)),
                *("-w", "%{http_code}", cab.url(path)),
            ),
            capture_output=True,
            text=True,
            timeout=max_time + 10,
        )
        data = out.read_bytes() if out.exists() else b""
    return (int(proc.stdout) if proc.stdout.strip().isdigit() else 0), data


def frames_at_client(board: VirtualTarget) -> int:
    """Frames the client's end of the cable received (from the guest's eth1)."""
    cab = cable(board)
    proc = subprocess.run(
        cab.argv("cat", f"/sys/class/net/{cab.ifname}/statistics/rx_packets"),
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def curl_until(board: VirtualTarget, path: str, size: int, within: float = 30) -> tuple[int, int]:
    deadline = time.monotonic() + within
    while True:
        got = curl(board, path, max_time=10)
        if got == (200, size) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def shell(board: VirtualTarget, cmd: str) -> str:
    out: str = board.strategy.shell.check(cmd)
    return out


def eth1_mac(board: VirtualTarget) -> str:
    return shell(board, "cat /sys/class/net/eth1/address")


def attached(board: VirtualTarget) -> list[str]:
    return shell(board, "cat /sys/kernel/slhttpd/attached").split()


def ndiv_row(board: VirtualTarget, dev: str = "eth1") -> dict[str, int]:
    lines = shell(board, "cat /proc/net/ndiv").splitlines()
    header = lines[0].split()
    for line in lines[1:]:
        row = line.split()
        if row[0] == dev:
            return {k: int(v) for k, v in zip(header[2:], row[2:], strict=True)}
    return {}


def wait_link_up(board: VirtualTarget, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while shell(board, "cat /sys/class/net/eth1/operstate") != "up":
        assert time.monotonic() < deadline, "eth1 did not come up"
        time.sleep(0.2)
    time.sleep(0.5)


def test_test_port_uses_the_model_and_its_mac(nic_board: VirtualTarget):
    nic = nic_board.nic
    driver = shell(nic_board, "basename $(readlink /sys/class/net/eth1/device/driver)")
    assert driver == DRIVERS[nic]
    mac = eth1_mac(nic_board)
    if nic == "e1000":
        # patch 0004: e1000 takes the bootloader's eth1addr
        assert mac == nic_board.strategy.uboot_env["eth1addr"] != NIC1_MAC
    else:
        # no bootloader-MAC patch for NICs the appliance boards do not have: QEMU's
        assert mac == NIC1_MAC


def test_slhttpd_answers_on_the_test_port(nic_board: VirtualTarget):
    assert "eth1" in attached(nic_board)
    before = ndiv_row(nic_board)
    assert curl_until(nic_board, "/100", 100) == (200, 100)
    assert curl(nic_board, "/64k") == (200, 65536)
    after = ndiv_row(nic_board)
    # sent: to the driver, or through the qdisc while BQL or the driver stopped the queue
    sent = after["tx_frames"] + after["tx_qdisc"] - before["tx_frames"] - before["tx_qdisc"]
    assert after["reply"] > before["reply"] and sent >= 40, (before, after)


def test_mss_follows_the_mtu(nic_board: VirtualTarget):
    """MTU 1400 on eth1, no mss=, the client's MSS 1460 (its side's MTU is 1500)."""
    shell(nic_board, "ip link set eth1 mtu 1400")
    try:
        wait_link_up(nic_board)  # an MTU change resets some NICs (e1000)
        assert curl_until(nic_board, "/128k", 131072) == (200, 131072)
    finally:
        shell(nic_board, "ip link set eth1 mtu 1500")
        wait_link_up(nic_board)


def test_reattach_after_unbind_and_bind_under_traffic(nic_board: VirtualTarget):
    dev = shell(nic_board, "basename $(readlink -f /sys/class/net/eth1/device)")
    drv = shell(nic_board, "readlink -f /sys/class/net/eth1/device/driver")
    cab = cable(nic_board)
    loop = f"while :; do curl -s -o /dev/null --max-time 2 {cab.url('/10k')}; done"
    traffic = subprocess.Popen(cab.argv("sh", "-c", loop))
    try:
        time.sleep(1)
        shell(nic_board, f"echo {dev} > {drv}/unbind")
        assert "eth1" not in attached(nic_board), "attached lists an interface that is gone"
        shell(nic_board, f"echo {dev} > {drv}/bind")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, _ = nic_board.strategy.shell.run("test -e /sys/class/net/eth1")
            if status == 0:
                break
            time.sleep(0.2)
        # the new interface is down, without the stack's address (rcS set them at boot)
        shell(nic_board, "ip addr add 10.0.3.15/24 dev eth1; ip link set eth1 up")
        wait_link_up(nic_board)
        while "eth1" not in attached(nic_board) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "eth1" in attached(nic_board), "SLHTTPD did not come back on eth1"
        assert "eth1" in ndiv_row_devs(nic_board)
        # the client's neighbour entry may hold the old MAC (e1000 numbers boards by probe)
        subprocess.run(cab.argv("ip", "neigh", "flush", "all"), check=False)
        assert curl_until(nic_board, "/10k", 10240) == (200, 10240)
    finally:
        traffic.kill()
        traffic.wait()


def test_ndiv_and_xdp_exclude_each_other(nic_board: VirtualTarget):
    sh = nic_board.strategy.shell
    param = "/sys/module/slhttpd/parameters/ifaces"
    ifaces = shell(nic_board, f"cat {param}")
    assert "eth1" in attached(nic_board)
    status, out = sh.run("xdptoggle attach eth1")
    assert status != 0 and "error 16 " in out, out  # EBUSY
    assert "An ndiv application is attached" in out, out
    shell(nic_board, f"echo eth0 > {param}")
    try:
        assert "eth1" not in attached(nic_board)
        assert shell(nic_board, "xdptoggle attach eth1") == "ok"
        shell(nic_board, "dmesg -c > /dev/null")
        status, out = sh.run(f"echo eth0,eth1 > {param}")
        assert status != 0, f"SLHTTPD attached to eth1 under an XDP program: {out}"
        assert "eth1" not in attached(nic_board)
        assert "eth1" not in ndiv_row_devs(nic_board)
        log = sh.kernel_log()
        refused = log.count("ndiv: slhttpd refused: an XDP program")
        assert refused == 1, log
    finally:
        sh.run("xdptoggle detach eth1")
        shell(nic_board, f"echo {ifaces} > {param}")
    assert "eth1" in attached(nic_board)
    assert curl_until(nic_board, "/100", 100) == (200, 100)


#: eth1's byte queue limit while BQL is tested: two full frames.
BQL_LIMIT = 3000
#: A full frame on eth1 (1514 bytes, VLAN tag room).
FRAME_MAX = 1518
#: The most bytes in flight a sample of BQL's ``inflight`` may show: BQL stops the queue
#: once the limit is passed, but a driver that defers the stop to the end of an xmit_more
#: batch (virtio_net: __netdev_tx_sent_queue) lets a whole batch through first (ndiv's
#: chunk, 8 frames); and sysfs reads num_queued - num_completed unlocked, so completions
#: and new frames between its two loads over-count by up to a limit. ndiv without BQL:
#: 172 KB sampled (e1000, 2026-12-07).
INFLIGHT_MAX = 2 * BQL_LIMIT + 8 * FRAME_MAX
#: Frames the guest's stack may send on eth1 meanwhile (ARP).
STACK_FRAMES = 20


def test_bql_is_obeyed_and_replies_wait_in_the_qdisc(nic_board: VirtualTarget):
    """BQL's limit forced to two frames on eth1's transmit queues while wrk (4 s, 8
    connections, /64k: 45 frames a reply) and curl ask: ndiv hands the frames BQL holds
    back to the qdisc (tx_qdisc grows), every frame ndiv counts as sent or queued reaches
    the client's end of the cable and none it counts as dropped does, the bytes in flight
    sampled meanwhile stay near the limit (ndiv used to send whole replies past it), and
    every reply is complete. Drops are allowed (tx_qdisc_drop: ndiv queues at most 128
    frames), losses of any other kind are not."""
    queues = shell(nic_board, "ls -d /sys/class/net/eth1/queues/tx-*").split()
    bqls = [f"{q}/byte_queue_limits" for q in queues]
    saved = {b: shell(nic_board, f"cat {b}/limit_max") for b in bqls}
    cab = cable(nic_board)
    try:
        for b in bqls:
            shell(nic_board, f"echo {BQL_LIMIT} > {b}/limit_max")
        assert curl_until(nic_board, "/100", 100) == (200, 100)
        before, wire0 = ndiv_row(nic_board), frames_at_client(nic_board)
        wrk = subprocess.Popen(
            cab.argv(*wrk_argv(cab.url("/64k"), 4, 8)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            time.sleep(1.0)
            inflight = " ".join(f"{b}/inflight" for b in bqls)
            samples = shell(
                nic_board,
                f"i=0; while [ $i -lt 150 ]; do cat {inflight}; i=$((i + 1)); done"
                " | sort -n | tail -1",
            )
            out, _ = wrk.communicate(timeout=60)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait()
        assert 0 <= int(samples) <= INFLIGHT_MAX, (
            f"{samples} bytes in flight on eth1 with BQL's limit at {BQL_LIMIT}"
        )
        result = parse_wrk(out)
        print(result.output)
        assert result.socket_errors == {} and result.non_2xx == 0, result.output
        assert result.requests >= 8, result.output
        assert result.bytes >= result.requests * 65536, result.output
        status, data = curl_body(nic_board, "/64k")
        assert status == 200 and data == body(65536), f"{status}: {len(data)} bytes"
        time.sleep(0.5)  # the qdisc drained long ago: curl got its last byte
        after, wire1 = ndiv_row(nic_board), frames_at_client(nic_board)
        diff = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        print(f"ndiv eth1: {diff}; frames at the client: {wire1 - wire0}")
        assert diff.get("tx_qdisc", 0) > 0, f"no reply frame went through the qdisc: {diff}"
        for lost in ("tx_busy", "tx_nomem", "tx_errors"):
            assert diff.get(lost, 0) == 0, f"{lost}: {diff}"
        sent = diff.get("tx_frames", 0) + diff["tx_qdisc"]
        assert sent <= wire1 - wire0 <= sent + STACK_FRAMES, (
            f"{wire1 - wire0} frames reached the client, ndiv sent or queued {sent}: {diff}"
        )
    finally:
        for b, value in saved.items():
            shell(nic_board, f"echo {value} > {b}/limit_max")
    bad = [
        ln
        for ln in nic_board.strategy.shell.kernel_log().splitlines()
        if BAD_KERNEL_LINES.search(ln)
    ]
    assert not bad, "\n".join(bad)


def ndiv_row_devs(board: VirtualTarget) -> list[str]:
    return [line.split()[0] for line in shell(board, "cat /proc/net/ndiv").splitlines()[1:]]


def test_no_kernel_warnings(nic_board: VirtualTarget):
    bad = [
        ln
        for ln in nic_board.strategy.shell.kernel_log().splitlines()
        if BAD_KERNEL_LINES.search(ln)
    ]
    assert not bad, "\n".join(bad)
