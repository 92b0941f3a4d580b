"""A server/client namespace pair with slhttpd-host (ASan+UBSan build) serving in it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from linerate.host import netns
from linerate.host.frontend import XDP_PASS_OBJ, Frontend, build, sanitizer_findings

PORTS = "80,8000-8999"
_serial = count()
_PREFIX_RE = re.compile(r"lrt([0-9a-z]+)_\d+-(server|client)")


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def sweep_stale() -> list[str]:
    """Remove test namespaces left by a test process that no longer exists (killed run)."""
    removed = []
    for path in sorted(Path("/run/netns").glob("lrt*")):
        m = _PREFIX_RE.fullmatch(path.name)
        if m and not Path(f"/proc/{int(m.group(1), 36)}").exists():
            # processes left in a namespace of a dead test run (e.g. its frontend)
            for pid in netns.run(["ip", "netns", "pids", path.name], check=False).split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            netns.run(["ip", "netns", "del", path.name], check=False)
            removed.append(path.name)
    return removed


@dataclass
class HostEnv:
    """Topology + running frontend; ``close()`` returns the problems found at teardown."""

    extra: Sequence[str] = ()
    mode: str = "afpacket"
    #: TX and RX queues of each veth end (netns.create)
    queues: int = 1
    topo: netns.Topology = field(init=False)
    fe: Frontend = field(init=False)

    def __post_init__(self) -> None:
        # lrt<pid in base 36>_<n>: unique per process, short enough for interface names
        self.topo = netns.Topology(prefix=f"lrt{_b36(os.getpid())}_{next(_serial)}")
        build(asan=True, force=True, xdp=self.mode == "xdp")
        netns.create(self.topo, queues=self.queues)
        try:
            if self.mode == "xdp":
                netns.attach_xdp_pass(self.topo, XDP_PASS_OBJ)
            self.fe = Frontend(
                iface=self.topo.server_if,
                addr=self.topo.server_addr,
                ports=PORTS,
                netns=self.topo.server_ns,
                asan=True,
                extra=list(self.extra),
                mode=self.mode,
            )
            self.fe.start()
        except BaseException:
            netns.destroy(self.topo)
            raise

    @property
    def addr(self) -> str:
        return self.topo.server_addr

    def url(self, target: str, port: int = 80) -> str:
        return f"http://{self.addr}:{port}{target}"

    def client(
        self, argv: Sequence[str], timeout: float = 60.0
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a command in the client namespace (bounded by ``timeout``)."""
        return subprocess.run(
            netns.in_ns(self.topo.client_ns, argv),
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    def connect(self, port: int = 80, timeout: float = 10.0) -> socket.socket:
        """A TCP socket connected from the client namespace."""
        with netns.entered(self.topo.client_ns):
            sock = socket.create_connection((self.addr, port), timeout=timeout)
        return sock

    def stats(self) -> dict[str, int]:
        return self.fe.stats()

    @contextmanager
    def loss(self, percent: float) -> Iterator[None]:
        """Drop ``percent`` % of the frames the client sends and of those it receives.

        iptables' statistic match, since this kernel has no sch_netem (tc netem); the effect
        on TCP is the same random loss in both directions.
        """
        netns.require_tools("iptables")
        prob = f"{percent / 100:.4f}"
        rules = [
            ["INPUT", "-i", self.topo.client_if],
            ["OUTPUT", "-o", self.topo.client_if],
        ]
        stat = ["-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP"]
        for r in rules:
            netns.run(netns.in_ns(self.topo.client_ns, ["iptables", "-A", *r, *stat]))
        try:
            yield
        finally:
            for r in rules:
                netns.run(
                    netns.in_ns(self.topo.client_ns, ["iptables", "-D", *r, *stat]), check=False
                )

    def close(self) -> list[str]:
        """Stop the frontend, remove the namespaces; what went wrong (sanitizer, exit code)."""
        problems: list[str] = []
        try:
            code = self.fe.stop()
            findings = sanitizer_findings(self.fe.stderr_text)
            if findings:
                problems.append("sanitizer report from slhttpd-host:\n" + self.fe.stderr_text)
            elif code != 0:
                problems.append(f"slhttpd-host exited with {code}: {self.fe.stderr_text}")
        finally:
            netns.destroy(self.topo)
        return problems
