"""Run wrk and read its summary (the host tests and the benchmark use it).

wrk runs with ``wrk_report.lua`` beside this file: its ``done()`` hook prints the
summary as one JSON line, which :func:`parse_wrk` reads (no regex over wrk's
human text, whose units change with the duration).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

#: wrk's Lua script that prints the summary as JSON.
REPORT_SCRIPT = Path(__file__).with_name("wrk_report.lua")
_MARKER = "LINERATE_WRK_JSON "


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    #: The socket errors wrk counted that are not zero (connect, read, write, timeout):
    #: empty when there were none.
    socket_errors: dict[str, int]
    #: Responses whose status was not 2xx or 3xx.
    non_2xx: int
    output: str
    bytes: int = 0
    #: mean, max, p50, p99 in microseconds.
    latency_us: dict[str, float] = field(default_factory=dict)


def wrk_argv(url: str, seconds: int, conns: int, threads: int = 1, close: bool = False,
             timeout: str = "5s") -> list[str]:  # fmt: skip
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", f"--timeout={timeout}"]
    argv += ["-s", str(REPORT_SCRIPT)]
    if close:
        argv += ["-H", "Connection: close"]
    return [*argv, url]


def parse_wrk(out: str) -> WrkResult:
    """The summary wrk_report.lua printed in ``out`` (wrk's stdout)."""
    line = next((ln for ln in out.splitlines() if ln.startswith(_MARKER)), None)
    if line is None:
        raise AssertionError(f"no wrk JSON summary (was wrk run with wrk_argv?) in:\n{out}")
    data = json.loads(line[len(_MARKER) :])
    errors = {k: int(v) for k, v in data["errors"].items()}
    seconds = data["duration_us"] / 1e6
    requests = int(data["requests"])
    return WrkResult(
        requests=requests,
        seconds=seconds,
        rps=requests / seconds if seconds > 0 else 0.0,
        socket_errors={k: errors[k] for k in ("connect", "read", "write", "timeout") if errors[k]},
        non_2xx=errors["status"],
        output=out,
        bytes=int(data["bytes"]),
        latency_us={k: float(v) for k, v in data["latency_us"].items()},
    )
