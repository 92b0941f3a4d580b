"""The SLHTTPD userspace frontend (slhttpd/out/slhttpd-host): build, start, query, stop."""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError, UsageError
from linerate.host.netns import in_ns

SLHTTPD_DIR = ROOT / "slhttpd"

#: What the sanitizers print when they find something (ASan, LSan, UBSan).
SANITIZER_PATTERNS = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: \w+Sanitizer"
)
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


def binary(asan: bool = False) -> Path:
    return SLHTTPD_DIR / "out" / ("slhttpd-host-asan" if asan else "slhttpd-host")


#: Frontend modes (slhttpd-host --mode): AF_PACKET, or the core in XDP plus AF_XDP.
MODES = ("afpacket", "xdp")
#: The XDP program (the core built for BPF) and the XDP_PASS program for a veth peer.
XDP_OBJ = SLHTTPD_DIR / "out" / "slhttpd_xdp.o"
XDP_PASS_OBJ = SLHTTPD_DIR / "out" / "xdp_pass.o"


def build(asan: bool = False, force: bool = False, xdp: bool = False) -> Path:
    """Build the frontend with ``make -C slhttpd``: every call asks make, which rebuilds
    it when a core or frontend source changed (``force``: rebuild in any case); ``xdp``:
    the XDP programs too."""
    path = binary(asan)
    target = f"out/{path.name}"
    more = [f"out/{XDP_OBJ.name}", f"out/{XDP_PASS_OBJ.name}"] if xdp else []
    cmd = ["make", "-C", str(SLHTTPD_DIR), *(["-B"] if force else []), target, *more]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0 or not path.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise LinerateError(
            f"building {target} failed (make -C slhttpd {target}); is build-essential "
            f"installed?\n{tail}"
        )
    return path


def parse_ports(spec: str) -> list[tuple[int, int]]:
    """Check a port list such as ``80,8000-8999``; return its ranges or raise with the fix."""
    if not spec.strip():
        raise UsageError("empty port list: give ports or ranges, e.g. --ports 80,8000-8999")
    ranges: list[tuple[int, int]] = []
    for item in spec.split(","):
        part = item.strip()
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.strip().isdigit() for b in bounds):
            raise UsageError(
                f"bad port '{part}' in '{spec}': expected a number or a range LOW-HIGH "
                "(e.g. 80,8000-8999)"
            )
        lo, hi = int(bounds[0]), int(bounds[-1])
        for port in (lo, hi):
            if not 1 <= port <= 65535:
                raise UsageError(f"port {port} in '{spec}' is out of range: TCP ports are 1..65535")
        if lo > hi:
            raise UsageError(f"bad port range '{part}': the low end comes first ({hi}-{lo})")
        ranges.append((lo, hi))
    return ranges


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the process that started it dies, so a
    killed test run or CLI never leaves a frontend serving (PR_SET_PDEATHSIG survives the
    exec of `ip netns exec` and of the frontend)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def sanitizer_findings(stderr: str) -> list[str]:
    """Lines of a sanitizer report in ``stderr`` (empty when clean)."""
    lines = stderr.splitlines()
    return [ln for ln in lines if SANITIZER_PATTERNS.search(ln)]


@dataclass
class Frontend:
    """One running slhttpd-host, optionally inside a network namespace."""

    iface: str
    addr: str
    ports: str = "80"
    netns: str | None = None
    asan: bool = False
    extra: Sequence[str] = ()
    workdir: Path | None = None
    mode: str = "afpacket"
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    stdout_text: str = field(default="", init=False)
    stderr_text: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="slhttpd-host-"))
        self.stats_path = self.workdir / "stats.json"
        self.stdout_path = self.workdir / "stdout.txt"
        self.stderr_path = self.workdir / "stderr.txt"

    def argv(self) -> list[str]:
        cmd = [
            str(binary(self.asan)),
            "--iface", self.iface,
            "--addr", self.addr,
            "--ports", self.ports,
            "--stats-json", str(self.stats_path),
            *(["--mode", "xdp", "--xdp-obj", str(XDP_OBJ)] if self.mode == "xdp" else []),
            *self.extra,
        ]  # fmt: skip
        return in_ns(self.netns, cmd) if self.netns else cmd

    def start(self, timeout: float = 60.0) -> None:
        """Start and wait until it serves (its stats file appears) or fail with its stderr.

        The timeout is long for --mode xdp: the verifier takes seconds on a loaded machine.
        """
        if self.mode not in MODES:
            raise UsageError(f"mode '{self.mode}': one of {', '.join(MODES)}")
        build(self.asan, xdp=self.mode == "xdp")
        self.stats_path.unlink(missing_ok=True)
        env = dict(os.environ)
        if self.asan:
            env.update(SANITIZER_ENV)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv(), stdout=out, stderr=err, env=env, preexec_fn=_die_with_parent
            )
        deadline = time.monotonic() + timeout
        while not self.stats_path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise LinerateError(
                    f"slhttpd-host did not start (exit {self.proc.returncode}): "
                    f"{self.stderr_text.strip() or self.stdout_text.strip()}"
                )
            time.sleep(0.02)

    def stats(self, timeout: float = 5.0) -> dict[str, int]:
        """Fresh counters (SIGUSR1, then its JSON): core and frontend names in one dict."""
        assert self.proc is not None, "not started"
        self.stats_path.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while not self.stats_path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise LinerateError(f"slhttpd-host wrote no counters to {self.stats_path}")
            time.sleep(0.01)
        return self.read_stats()

    def read_stats(self) -> dict[str, int]:
        data = json.loads(self.stats_path.read_text())
        merged = {f"fe_{k}": int(v) for k, v in data["frontend"].items()}
        merged.update({k: int(v) for k, v in data["core"].items()})
        return merged

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (counters are printed), wait, collect its output; kill if it hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self.stdout_text = self.stdout_path.read_text(errors="replace")
        self.stderr_text = self.stderr_path.read_text(errors="replace")
        return self.proc.returncode

    @property
    def pid(self) -> int:
        """The frontend's own pid (``ip netns exec`` execs it, so it is the Popen pid)."""
        assert self.proc is not None
        return self.proc.pid
