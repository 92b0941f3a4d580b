"""Run wrk and read its summary (the host tests and the benchmark use it)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    socket_errors: dict[str, int]
    non_2xx: int
    output: str


def wrk_argv(url: str, seconds: int, conns: int, threads: int = 1, close: bool = False,
             timeout: str = "5s") -> list[str]:  # fmt: skip
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", f"--timeout={timeout}"]
    if close:
        argv += ["-H", "Connection: close"]
    return [*argv, url]


def parse_wrk(out: str) -> WrkResult:
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if not m:
        raise AssertionError(f"no wrk summary in:\n{out}")
    secs = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors: dict[str, int] = {}
    e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if e:
        errors = dict(zip(("connect", "read", "write", "timeout"), map(int, e.groups()),
                          strict=True))  # fmt: skip
    n2 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(
        requests=int(m.group(1)),
        seconds=secs,
        rps=float(rps.group(1)) if rps else 0.0,
        socket_errors=errors,
        non_2xx=int(n2.group(1)) if n2 else 0,
        output=out,
    )
