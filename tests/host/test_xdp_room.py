"""No room on a veth for XDP to grow a frame to a full one (slhttpd/xdp/README.md).

XDP_TX of an answer larger than its request needs bpf_xdp_adjust_tail() to grow the received
frame. ``xdptoggle room IFACE N`` (board/virt/tools/xdptoggle.c, built here for the host)
attaches a native-mode probe that grows every frame shorter than N bytes to N and back,
XDP_PASS if it could, XDP_DROP if not: pings through the interface answer iff there was room.
On a veth N = 64 fits (the buffer's alignment slack) and N = 1514 does not; the virtual
board's virtio-net has room for 1514 (tests/vboard/test_xdp_guest.py).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hostenv import _b36

from linerate import ROOT
from linerate.host import netns

XDPTOGGLE = ROOT / "board" / "virt" / "tools" / "xdptoggle.c"


def test_veth_has_no_room_to_grow_a_frame_to_1514(tmp_path: Path) -> None:
    if not netns.has_capabilities(netns.CAP_NET_ADMIN, netns.CAP_SYS_ADMIN):
        pytest.fail("host tests need root (network namespaces, veth): run as root")
    tool = tmp_path / "xdptoggle"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(tool), str(XDPTOGGLE)],
                   check=True, timeout=120)  # fmt: skip
    # The host tier's namespace names (swept by hostenv.sweep_stale after a killed run).
    topo = netns.Topology(prefix=f"lrt{_b36(os.getpid())}_99")
    netns.create(topo)
    try:
        s, c = topo.server_ns, topo.client_ns
        netns.run(["ip", "-n", s, "addr", "add", f"{topo.server_addr}/{netns.PREFIX_LEN}",
                   "dev", topo.server_if])  # fmt: skip
        results = []
        for n in (64, 1514, 64):
            assert netns.run(netns.in_ns(s, [str(tool), "room", topo.server_if, str(n)])) == "ok\n"
            try:
                netns.run(["ip", "-n", c, "neigh", "flush", "dev", topo.client_if], check=False)
                ping = subprocess.run(
                    netns.in_ns(c, ["ping", "-c", "2", "-W", "1", topo.server_addr]),
                    capture_output=True, timeout=20, check=False,
                )  # fmt: skip
                results.append((n, ping.returncode == 0))
            finally:
                out = netns.run(netns.in_ns(s, [str(tool), "detach-native", topo.server_if]))
                assert out == "ok\n"
        assert results == [(64, True), (1514, False), (64, True)], results
    finally:
        netns.destroy(topo)
