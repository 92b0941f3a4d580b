#!/usr/bin/env python3
"""SLHTTPD under random loss, with the sender cache and with the stateless rules alone,
side by side in one run (PROTOCOL.md, "The answered-request filter and the sender cache");
with --first-flight, also the sender cache with a request's whole burst as its first flight
(`--first-flight 0`) beside the default initial window of 10 segments.

Each server is slhttpd-host (the ASan build the host tests use, AF_PACKET) on a veth
between two network namespaces made for the run; curl in the client namespace fetches one
object COUNT times, each on a new connection, while iptables there drops LOSS % of the
frames both ways. Prints per server: the time per response (median, p90, max; curl gives
up after 60 s) and the frames the server sent (median per response, total).

    sudo .venv/bin/python bench/loss_bench.py [--size 128k] [--count 20] [--loss 1 5 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "host"))

from hostenv import HostEnv  # noqa: E402

SERVERS = {"sender cache": [], "stateless": ["--stateless"]}
WHOLE_BURST = {"cache, whole burst": ["--first-flight", "0"]}
CURL_MAX_S = 60


def run(env: HostEnv, size: str, count: int, loss: float) -> tuple[list[float], list[int]]:
    """Seconds and server frames of each of `count` curls at `loss` %."""
    times: list[float] = []
    frames: list[int] = []
    with env.loss(loss):
        for _ in range(count):
            before = env.stats()
            t0 = time.monotonic()
            r = env.client(
                ["curl", "-s", "--max-time", str(CURL_MAX_S), "-o", "/dev/null",
                 env.url(f"/{size}")],
                timeout=CURL_MAX_S + 30,
            )  # fmt: skip
            times.append(time.monotonic() - t0)
            frames.append(env.stats()["tx_frames"] - before["tx_frames"])
            if r.returncode not in (0, 28):  # 28: curl's --max-time
                raise SystemExit(f"curl: exit {r.returncode} {r.stderr!r}")
    return times, frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="128k", help="object, as in the URL (default 128k)")
    ap.add_argument("--count", type=int, default=20, help="curls per loss rate (default 20)")
    ap.add_argument("--loss", type=float, nargs="+", default=[1.0, 5.0, 20.0],
                    help="loss rates, %% (default 1 5 20)")  # fmt: skip
    ap.add_argument("--first-flight", action="store_true",
                    help="also the cache with the whole burst as a first flight")  # fmt: skip
    args = ap.parse_args()
    servers = SERVERS | (WHOLE_BURST if args.first_flight else {})
    envs = {name: HostEnv(extra=extra) for name, extra in servers.items()}
    try:
        print(f"/{args.size}, {args.count} curls per loss rate, each on a new connection")
        print(f"{'loss':>5} {'server':>18} | {'median s':>8} {'p90 s':>7} {'max s':>6} "
              f"{'total s':>7} | {'frames/resp':>11} {'frames':>9}")  # fmt: skip
        for loss in args.loss:
            for name, env in envs.items():
                times, frames = run(env, args.size, args.count, loss)
                times.sort()
                p90 = times[max(0, int(0.9 * len(times)) - 1)]
                median = statistics.median(times)
                print(f"{loss:>4}% {name:>18} | {median:>8.3f} {p90:>7.3f} {times[-1]:>6.1f} "
                      f"{sum(times):>7.1f} | {statistics.median(frames):>11.0f} "
                      f"{sum(frames):>9}", flush=True)  # fmt: skip
    finally:
        for env in envs.values():
            for problem in env.close():
                print(problem, file=sys.stderr)


if __name__ == "__main__":
    main()
