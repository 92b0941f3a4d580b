"""The ndiv hooks of every NIC model the virtual board offers for its test port (eth1,
``linerate vboard --nic``): e1000, e1000e, igb and virtio-net (QEMU has no ixgbe: that
hook is only built, see test_kernel_build.py).

One board per model. Each is driven by a crafted-frame TCP client on the raw frame link
(linerate.vboard.frameclient): SLHTTPD answers on eth1, clamps its MSS to the MTU, and
serves again after the driver is unbound and bound under traffic.

Not tested here: ndiv/XDP exclusivity (the virt kernel has no BPF syscall and the
initramfs no loader; the check is in net/core, compiled by both kernel targets).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest

from linerate import ROOT
from linerate.board.strategy import State
from linerate.board.target import VirtualTarget
from linerate.vboard.frameclient import TCP_SYN, Conn, FrameClient
from linerate.vboard.images import BoardImages
from linerate.vboard.launcher import NIC1_MAC

GUEST_IP = "10.0.2.15"  # SLHTTPD's address (slhttpd.conf), served on eth1 too
BAD_KERNEL_LINES = re.compile(r"WARNING:|Oops|BUG:|Internal error|Call trace|Kernel panic")
DRIVERS = {"e1000": "e1000", "e1000e": "e1000e", "igb": "igb", "virtio": "virtio_net"}

pytestmark = pytest.mark.usefixtures("slhttpd_module")


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
    ) as target:
        yield target


def transcript_path(name: str):
    path = ROOT / "artifacts" / "vboard" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


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


def client(board: VirtualTarget) -> FrameClient:
    assert board.vboard.frames is not None
    return FrameClient(board.vboard.frames, eth1_mac(board))


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
    with client(nic_board) as c:
        small = c.fetch(GUEST_IP, "/100", sport=40100)
        big = c.fetch(GUEST_IP, "/64k", sport=40101)
    assert small.status.startswith("HTTP/1.1 200") and small.complete, small
    assert big.complete, big
    after = ndiv_row(nic_board)
    assert after["reply"] > before["reply"] and after["tx_frames"] >= before["tx_frames"] + 40


def test_mss_follows_the_mtu(nic_board: VirtualTarget):
    """MTU 1400, no mss=, a client announcing MSS 1460: /128k arrives whole, in segments
    that fit the MTU."""
    shell(nic_board, "ip link set eth1 mtu 1400")
    try:
        # an MTU change resets some NICs (e1000: link down and up): wait for the link,
        # then warm the queue up (BQL starts with a small limit)
        wait_link_up(nic_board)
        with client(nic_board) as c:
            c.fetch(GUEST_IP, "/10k", sport=40199, mss=1460, timeout=30)
            got = c.fetch(GUEST_IP, "/128k", sport=40200, mss=1460, timeout=60)
        assert got.complete, got
        assert got.body == 128 * 1024
        assert 0 < got.max_payload <= 1400 - 40, got
    finally:
        shell(nic_board, "ip link set eth1 mtu 1500")
        wait_link_up(nic_board)


def test_reattach_after_unbind_and_bind_under_traffic(nic_board: VirtualTarget):
    dev = shell(nic_board, "basename $(readlink -f /sys/class/net/eth1/device)")
    drv = shell(nic_board, "readlink -f /sys/class/net/eth1/device/driver")
    stop = threading.Event()
    with client(nic_board) as c:

        def flood() -> None:  # SYNs to port 80 while the driver goes and comes back
            port = 50000
            while not stop.is_set():
                conn = Conn(sport=port, seq=port * 13, ack=0)
                c.send(c.tcp(GUEST_IP, conn, 80, TCP_SYN, mss=1460))
                port = 50000 + (port - 49999) % 5000
                time.sleep(0.002)

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        try:
            shell(nic_board, f"echo {dev} > {drv}/unbind")
            assert "eth1" not in attached(nic_board), "attached lists an interface that is gone"
            shell(nic_board, f"echo {dev} > {drv}/bind")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                status, _ = nic_board.strategy.shell.run("test -e /sys/class/net/eth1")
                if status == 0:
                    break
                time.sleep(0.2)
            shell(nic_board, "ip link set eth1 up")
            wait_link_up(nic_board)
            while "eth1" not in attached(nic_board) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "eth1" in attached(nic_board), "SLHTTPD did not come back on eth1"
            assert "eth1" in ndiv_row_devs(nic_board)
        finally:
            stop.set()
            thread.join()
    # the new device may have another MAC (e1000 numbers its boards in probe order)
    with client(nic_board) as c:
        got = c.fetch(GUEST_IP, "/10k", sport=40300, timeout=60)
    assert got.complete, got


def ndiv_row_devs(board: VirtualTarget) -> list[str]:
    return [line.split()[0] for line in shell(board, "cat /proc/net/ndiv").splitlines()[1:]]


def test_no_kernel_warnings(nic_board: VirtualTarget):
    bad = [ln for ln in shell(nic_board, "dmesg").splitlines() if BAD_KERNEL_LINES.search(ln)]
    assert not bad, "\n".join(bad)
