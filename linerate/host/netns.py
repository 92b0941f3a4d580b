"""Network namespaces for the SLHTTPD host frontend: a server side and a client side.

The topology used by ``linerate serve --demo``, the host tests and the benchmark::

    namespace <prefix>-server              namespace <prefix>-client
    [ <prefix>-s0 ] <------ veth ------> [ <prefix>-c0  10.77.0.2/24 ]
      no IP address: the frontend owns 10.77.0.1 (AF_PACKET on <prefix>-s0,
      answers ARP itself); the server namespace's kernel has no address and
      does not forward, so it never answers anything for 10.77.0.1.

Offloads are switched off on both ends (TSO/GSO/GRO, and TX checksum on the client) so that
every frame on the veth is a real, fully checksummed Ethernet frame of at most MTU bytes, as on
a wire.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from linerate.errors import LinerateError

SERVER_ADDR = "10.77.0.1"
CLIENT_ADDR = "10.77.0.2"
PREFIX_LEN = 24
SERVER_MAC = "02:4c:52:00:00:01"
CLIENT_MAC = "02:4c:52:00:00:02"

_CLONE_NEWNET = 0x40000000
# Capability bits in /proc/self/status CapEff.
CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
CAP_SYS_ADMIN = 21


@dataclass(frozen=True)
class Topology:
    """Names and addresses of one server/client namespace pair."""

    prefix: str = "lr"
    server_addr: str = SERVER_ADDR
    client_addr: str = CLIENT_ADDR
    server_mac: str = SERVER_MAC
    client_mac: str = CLIENT_MAC

    @property
    def server_ns(self) -> str:
        return f"{self.prefix}-server"

    @property
    def client_ns(self) -> str:
        return f"{self.prefix}-client"

    @property
    def server_if(self) -> str:
        return f"{self.prefix}-s0"

    @property
    def client_if(self) -> str:
        return f"{self.prefix}-c0"


def has_capabilities(*caps: int) -> bool:
    """True if this process holds every capability bit in ``caps`` (root normally does)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                eff = int(line.split()[1], 16)
                return all(eff >> cap & 1 for cap in caps)
    except OSError:
        pass
    return os.geteuid() == 0


def require_tools(*tools: str) -> None:
    """Raise with the Debian package to install if a command is missing."""
    packages = {"ip": "iproute2", "ethtool": "ethtool", "iptables": "iptables"}
    for tool in tools:
        if shutil.which(tool) is None:
            pkg = packages.get(tool, tool)
            raise LinerateError(f"`{tool}` not found: install it (apt-get install {pkg})")


def run(argv: Sequence[str], check: bool = True, timeout: float = 30.0) -> str:
    """Run a command, return its stdout; raise LinerateError with its stderr on failure."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise LinerateError(f"`{' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def in_ns(ns: str, argv: Sequence[str]) -> list[str]:
    """The command line running ``argv`` inside namespace ``ns``."""
    return ["ip", "netns", "exec", ns, *argv]


def ns_exists(ns: str) -> bool:
    return Path("/run/netns", ns).exists()


def destroy(topo: Topology) -> None:
    """Delete the namespaces (and with them the veth pair); fine if they do not exist."""
    for ns in (topo.client_ns, topo.server_ns):
        if ns_exists(ns):
            run(["ip", "netns", "del", ns], check=False)
    left = [ns for ns in (topo.client_ns, topo.server_ns) if ns_exists(ns)]
    if left:
        raise LinerateError(f"could not delete network namespaces {left}: `ip netns del NAME`")


def create(topo: Topology, mtu: int = 1500, queues: int = 1) -> None:
    """Create the topology from scratch, removing a stale one of the same name first.

    ``queues``: TX and RX queues of each veth end. A veth delivers a frame on the peer's RX
    queue with the index of the TX queue it was sent on (the sender's XPS, else the flow's
    hash): with several queues, the client's connections spread over the server's RX queues
    as on a NIC with RSS.
    """
    if queues < 1:
        raise LinerateError(f"queues {queues}: at least 1")
    require_tools("ip", "ethtool")
    if not has_capabilities(CAP_NET_ADMIN, CAP_SYS_ADMIN):
        raise LinerateError(
            "creating network namespaces needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run as root"
        )
    destroy(topo)
    try:
        s, c = topo.server_ns, topo.client_ns
        run(["ip", "netns", "add", s])
        run(["ip", "netns", "add", c])
        run(
            [
                "ip", "link", "add", "name", topo.client_if, "netns", c,
                "address", topo.client_mac, "mtu", str(mtu),
                "numtxqueues", str(queues), "numrxqueues", str(queues), "type", "veth",
                "peer", "name", topo.server_if, "netns", s,
                "address", topo.server_mac, "mtu", str(mtu),
                "numtxqueues", str(queues), "numrxqueues", str(queues),
            ]
        )  # fmt: skip
        for ns, dev in ((s, topo.server_if), (c, topo.client_if)):
            # No IPv6 chatter (router solicitations, DAD) on the test link.
            run(in_ns(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]))
            run(in_ns(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"]))
            run(in_ns(ns, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]))
            run(in_ns(ns, ["ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"]))
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        # Full checksums in every client frame: the core verifies them.
        run(in_ns(c, ["ethtool", "-K", topo.client_if, "tx", "off"]))
        run(["ip", "-n", c, "addr", "add", f"{topo.client_addr}/{PREFIX_LEN}",
             "dev", topo.client_if])  # fmt: skip
        run(["ip", "-n", s, "link", "set", topo.server_if, "up"])
        run(["ip", "-n", c, "link", "set", topo.client_if, "up"])
    except BaseException:
        destroy(topo)
        raise


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def entered(ns: str) -> Iterator[None]:
    """Run the body with this thread in network namespace ``ns``.

    Sockets created inside stay in ``ns`` after the block; the thread returns to its own
    namespace on exit, even on error.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


def attach_xdp_pass(topo: Topology, obj: Path) -> None:
    """XDP_PASS on the client end: frames the server sends with XDP_TX into a veth are
    dropped unless the peer end runs NAPI, which an attached XDP program turns on (GRO
    would too, but merges the segments the tests look at). Not needed on a real NIC."""
    run(["ip", "-n", topo.client_ns, "link", "set", "dev", topo.client_if, "xdpdrv",
         "obj", str(obj), "sec", "xdp"])  # fmt: skip
