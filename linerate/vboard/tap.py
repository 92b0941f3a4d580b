"""The virtual board's test port as a cable: a tap device in a network namespace of its own.

``linerate vboard --tap`` (and ``VirtualBoard(tap=True)``) plugs the guest's test port (NIC1,
eth1) into a tap device that lives in a fresh network namespace, so Linux TCP clients in that
namespace talk to the guest kernel's driver directly, as a host cabled to a real board does
(no slirp in between: their timestamps, SACK, window scaling, ECN, MSS reach SLHTTPD)::

    namespace lrvb-<pid>-<n>                          QEMU (root namespace)
    [ lrtap0  10.0.3.2/24 ]  <-- tap fd --> -netdev tap,fd=N --> guest eth1 10.0.3.15/24
      route 10.0.2.15/32 dev lrtap0                        SLHTTPD answers for 10.0.2.15
                                                           (slhttpd.conf addr=, eth0 and eth1)

How it is made: the tap is created *inside* the namespace (this thread enters it, opens
/dev/net/tun and TUNSETIFF there: a tap belongs to the namespace of the file that created it),
and QEMU, started in the root namespace, gets the open file (``-netdev tap,fd=N``, inherited
through ``pass_fds``). No tap ever appears in the root namespace, so nothing there can collide.
When QEMU exits, the tap (not persistent) disappears with the last open file; :meth:`close`
deletes the namespace. A namespace left by a killed process (its pid is in the name) is
deleted by the next :func:`create_cable`.

Root is needed (CAP_NET_ADMIN and CAP_SYS_ADMIN: namespaces, /dev/net/tun). The tap has no
offloads (no IFF_VNET_HDR): every frame the clients send is a complete, checksummed Ethernet
frame of at most the namespace side's MTU, as on a wire.
"""

from __future__ import annotations

import fcntl
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from linerate.errors import LinerateError
from linerate.host import netns

#: SLHTTPD's address on the virtual board (board/virt/rootfs/etc/slhttpd.conf ``addr=``): it
#: answers for it on eth0 and on the test port eth1.
GUEST_ADDR = "10.0.2.15"
#: The guest stack's own address on the test port (board/virt/rootfs/etc/network.conf).
GUEST_PORT_ADDR = "10.0.3.15"
#: The namespace's end of the cable.
CLIENT_ADDR = "10.0.3.2"
CLIENT_PREFIX = 24
CLIENT_MAC = "02:00:00:00:0a:02"
IFNAME = "lrtap0"
NS_PREFIX = "lrvb"

_TUNSETIFF = 0x400454CA
_IFF_TAP = 0x0002
_IFF_NO_PI = 0x1000
_TUN = Path("/dev/net/tun")
_counter = 0


@dataclass
class TapCable:
    """A tap device ``ifname`` in namespace ``netns``: its file (``fd``) goes to QEMU."""

    netns: str
    fd: int | None
    ifname: str = IFNAME
    client_addr: str = CLIENT_ADDR
    guest_addr: str = GUEST_ADDR
    mtu: int = 1500
    _closed: bool = field(default=False, repr=False)

    def url(self, path: str = "/1k") -> str:
        return f"http://{self.guest_addr}{path}"

    def argv(self, *command: str) -> list[str]:
        """``command`` run in the namespace (``ip netns exec NS ...``)."""
        return netns.in_ns(self.netns, command)

    @property
    def try_line(self) -> str:
        return f"ip netns exec {self.netns} curl {self.url('/1k')}"

    def netdev(self, netdev_id: str) -> str:
        """QEMU's ``-netdev`` value for this tap (the fd must be passed to QEMU)."""
        if self.fd is None:
            raise LinerateError("the tap's file was already handed over or closed")
        return f"tap,id={netdev_id},fd={self.fd}"

    def release_fd(self) -> None:
        """Close this process's copy of the tap's file (QEMU holds its own)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def set_mtu(self, mtu: int) -> None:
        """The namespace side's MTU (the clients' MSS follows it)."""
        netns.run(["ip", "-n", self.netns, "link", "set", self.ifname, "mtu", str(mtu)])
        self.mtu = mtu

    def sysctl(self, name: str, value: str | int | None = None) -> str:
        """Read (``value`` None) or set a sysctl in the namespace (e.g. net.ipv4.tcp_sack);
        return its value before."""
        old = netns.run(self.argv("sysctl", "-n", name)).strip()
        if value is not None:
            netns.run(self.argv("sysctl", "-q", "-w", f"{name}={value}"))
        return old

    def close(self) -> None:
        """Delete the namespace (the tap goes with QEMU's file). Safe to call twice."""
        if self._closed:
            return
        self.release_fd()
        _delete(self.netns)
        self._closed = True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _delete(ns: str) -> None:
    if netns.ns_exists(ns):
        netns.run(["ip", "netns", "del", ns], check=False)
    if netns.ns_exists(ns):
        raise LinerateError(f"could not delete network namespace {ns}: `ip netns del {ns}`")


def prune_stale() -> list[str]:
    """Delete the namespaces of earlier runs whose process is gone; return their names."""
    gone = []
    run = Path("/run/netns")
    for path in sorted(run.glob(f"{NS_PREFIX}-*")) if run.is_dir() else []:
        parts = path.name.split("-")
        if len(parts) == 3 and parts[1].isdigit() and not _pid_alive(int(parts[1])):
            _delete(path.name)
            gone.append(path.name)
    return gone


def check_can_create() -> None:
    """Raise with what is missing to make a tap cable (root, /dev/net/tun, iproute2)."""
    netns.require_tools("ip", "ethtool")
    if not netns.has_capabilities(netns.CAP_NET_ADMIN, netns.CAP_SYS_ADMIN):
        raise LinerateError(
            "--tap creates a network namespace and a tap device: it needs CAP_NET_ADMIN and "
            "CAP_SYS_ADMIN (run as root); without --tap the board is reached through QEMU's "
            "user networking only"
        )
    if not _TUN.exists():
        raise LinerateError(
            f"{_TUN} does not exist: load the tun module (modprobe tun) or, in a container, "
            "give it the device (--device /dev/net/tun)"
        )


def _open_tap(ifname: str) -> int:
    """Create tap ``ifname`` in this thread's current namespace; return its file."""
    fd = os.open(_TUN, os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH22x", ifname.encode(), _IFF_TAP | _IFF_NO_PI))
    except OSError as exc:
        os.close(fd)
        raise LinerateError(f"TUNSETIFF {ifname} on {_TUN}: {exc.strerror}") from exc
    return fd


def create_cable(mtu: int = 1500) -> TapCable:
    """A new namespace ``lrvb-<pid>-<n>`` with the tap in it, addressed and up."""
    global _counter
    check_can_create()
    prune_stale()
    _counter += 1
    ns = f"{NS_PREFIX}-{os.getpid()}-{_counter}"
    _delete(ns)
    netns.run(["ip", "netns", "add", ns])
    cable = TapCable(netns=ns, fd=None, mtu=mtu)
    try:
        with netns.entered(ns):
            cable.fd = _open_tap(IFNAME)
        for key in ("all", "default"):
            # No IPv6 chatter (router solicitations, DAD) on the cable.
            netns.run(cable.argv("sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1"))
        ip = ["ip", "-n", ns]
        netns.run([*ip, "link", "set", "lo", "up"])
        netns.run([*ip, "link", "set", IFNAME, "address", CLIENT_MAC, "mtu", str(mtu)])
        # Segmentation and checksums in software: real frames on the cable.
        netns.run(cable.argv("ethtool", "-K", IFNAME, "tso", "off", "gso", "off", "gro", "off"))
        netns.run([*ip, "addr", "add", f"{CLIENT_ADDR}/{CLIENT_PREFIX}", "dev", IFNAME])
        netns.run([*ip, "link", "set", IFNAME, "up"])
        netns.run([*ip, "route", "add", f"{GUEST_ADDR}/32", "dev", IFNAME])
    except BaseException:
        cable.close()
        raise
    return cable
