#!/usr/bin/env python3
"""SLHTTPD (XDP and AF_PACKET frontends) vs nginx-light, same client, same veth, one run; SYN ->
SYN-ACK with a raw-frame generator; the core's cost per frame per path (time and instructions).
See docs/benchmark.md.

    sudo .venv/bin/python bench/run_bench.py [--seconds 10] [--conns 32] [--object 1024]

Needs root (namespaces), wrk, nginx-light, valgrind, a C compiler; for the exact ARMv7
instruction counts arm-linux-gnueabihf-gcc, libc6-dev-armhf-cross and qemu-user (qemu-arm).
Only the core costs: --skip-net.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from linerate.errors import LinerateError  # noqa: E402
from linerate.host import netns  # noqa: E402
from linerate.host.body import body  # noqa: E402
from linerate.host.frontend import XDP_PASS_OBJ, Frontend, build  # noqa: E402
from linerate.host.wrk import WrkResult, parse_wrk, wrk_argv  # noqa: E402

BUILD = Path(os.environ.get("LINERATE_BUILD", REPO / "build")) / "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


@dataclass
class Run:
    server: str
    mode: str
    wrk: WrkResult
    cpu: float

    @property
    def cpu_us_per_req(self) -> float:
        return self.cpu / self.wrk.requests * 1e6 if self.wrk.requests else float("nan")


def bpf_seconds() -> float:
    """Run time of the SLHTTPD XDP programs so far (kernel.bpf_stats_enabled must be 1): the
    server CPU that runs in the NIC's softirq, charged to no server process."""
    out = subprocess.run(
        ["bpftool", "-j", "prog", "show"], capture_output=True, text=True, check=False
    ).stdout
    total = 0
    for prog in json.loads(out or "[]"):
        if str(prog.get("name", "")).startswith("slhttpd_xdp"):
            total += int(prog.get("run_time_ns", 0))
    return total / 1e9


def measure(
    topo: netns.Topology,
    server: str,
    pids: list[int],
    url: str,
    args: argparse.Namespace,
    extra_cpu: Callable[[], float] = lambda: 0.0,
) -> list[Run]:
    runs = []
    for mode, close in (("keep-alive", False), ("close", True)):
        argv = wrk_argv(url, seconds=args.seconds, conns=args.conns, threads=1, close=close)
        c0 = cpu_seconds(pids) + extra_cpu()
        proc = subprocess.run(
            netns.in_ns(topo.client_ns, argv),
            capture_output=True,
            text=True,
            timeout=args.seconds + 60,
            check=False,
        )
        cpu = cpu_seconds(pids) + extra_cpu() - c0
        if proc.returncode != 0:
            raise LinerateError(f"wrk failed: {proc.stderr}")
        res = parse_wrk(proc.stdout)
        runs.append(Run(server, mode, res, cpu))
        print(f"  {server:8} {mode:10} {res.rps:10.0f} req/s  cpu {cpu:.2f} s"
              f"  errors {res.socket_errors or 0}  non-2xx {res.non_2xx}", flush=True)  # fmt: skip
        time.sleep(1)
    return runs


SYN_SRC = "10.77.0.99"  # nobody's address: the client kernel drops the SYN-ACKs (no RSTs)


@dataclass
class SynRun:
    server: str
    syns: int
    wall: float
    cpu: float

    @property
    def mpps_per_core(self) -> float:
        return self.syns / self.cpu / 1e6 if self.cpu > 0 else float("nan")


def syn_rate(
    topo: netns.Topology, server: str, fe: Frontend, cpu: Callable[[], float], secs: int
) -> SynRun:
    """SYN -> SYN-ACK: the generator floods the server for ``secs`` seconds (at most 1e9
    frames); SYNs answered (core counter) per second of server CPU."""
    gen = build_syn_gen()
    s0, c0 = fe.stats()["syn"], cpu()
    argv = [str(gen), topo.client_if, topo.client_mac, topo.server_mac, SYN_SRC,
            topo.server_addr, "80", str(secs), "1000000000"]  # fmt: skip
    t0 = time.monotonic()
    subprocess.run(netns.in_ns(topo.client_ns, argv), check=True, capture_output=True,
                   timeout=secs + 30)  # fmt: skip
    wall = time.monotonic() - t0
    time.sleep(0.5)
    run = SynRun(server, fe.stats()["syn"] - s0, wall, cpu() - c0)
    print(f"  {server:12} SYN->SYN-ACK {run.syns / wall / 1e6:.3f} Mpps wall, server CPU "
          f"{run.cpu:.2f} s: {run.mpps_per_core:.3f} Mpps per core", flush=True)  # fmt: skip
    return run


def build_syn_gen() -> Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    out = BUILD / "syn_gen"
    src = REPO / "bench" / "syn_gen.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(src)],
                       check=True)  # fmt: skip
    return out


def bench_slhttpd(
    topo: netns.Topology, args: argparse.Namespace, mode: str, syns: list[SynRun]
) -> list[Run]:
    build(asan=False, force=True, xdp=mode == "xdp")
    server = "slhttpd-xdp" if mode == "xdp" else "slhttpd"
    fe = Frontend(iface=topo.server_if, addr=topo.server_addr, netns=topo.server_ns, mode=mode)
    fe.start()
    extra = bpf_seconds if mode == "xdp" else (lambda: 0.0)
    try:
        runs = measure(
            topo, server, [fe.pid], f"http://{topo.server_addr}/{args.object}", args, extra
        )
        if args.syn_seconds:
            syns.append(
                syn_rate(topo, server, fe, lambda: cpu_seconds([fe.pid]) + extra(),
                         args.syn_seconds)
            )  # fmt: skip
        return runs
    finally:
        fe.stop()


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {addr}:80 reuseport backlog=4096;
        root {tmp}/www;
        default_type text/plain;
    }}
}}
"""


def bench_nginx(topo: netns.Topology, args: argparse.Namespace) -> list[Run]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise LinerateError("nginx not found: apt-get install nginx-light")
    s = topo.server_ns
    netns.run(["ip", "-n", s, "addr", "add", f"{topo.server_addr}/24", "dev", topo.server_if])
    with tempfile.TemporaryDirectory(prefix="lr-nginx-") as tmp:
        os.chmod(tmp, 0o755)  # nginx workers run as an unprivileged user
        www = Path(tmp, "www")
        www.mkdir(mode=0o755)
        obj = www / str(args.object)
        obj.write_bytes(body(args.object))
        obj.chmod(0o644)
        conf = Path(tmp, "nginx.conf")
        conf.write_text(NGINX_CONF.format(tmp=tmp, addr=topo.server_addr))
        proc = subprocess.Popen(
            netns.in_ns(s, [nginx, "-c", str(conf), "-p", tmp]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            workers = _nginx_workers(proc)
            return measure(topo, "nginx", workers, f"http://{topo.server_addr}/{args.object}", args)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            netns.run(
                ["ip", "-n", s, "addr", "del", f"{topo.server_addr}/24", "dev", topo.server_if],
                check=False,
            )


def _nginx_workers(proc: subprocess.Popen[bytes]) -> list[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise LinerateError(f"nginx exited: {err}")
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        if children:
            return [proc.pid, *map(int, children)]
        time.sleep(0.1)
    raise LinerateError("nginx started no worker within 10 s")


#: core_bench flag sets the cost table has a column for (all with timestamps: the MAC check
#: is part of every frame's cost): checksums in software, and as mvneta offloads them.
CORE_CONFIGS = {
    "sw csum": ["--ts"],
    "offload": ["--ts", "--csum-ok", "--tx-offload"],
    "offload no-ts": ["--csum-ok", "--tx-offload"],
}
#: Issue 10's ARMv7 budget per received frame ("offload", timestamps on); ack_* per frame out.
ARM_TARGETS = {
    "syn": 250,
    "req64": 800,
    "req1k": 1200,
    "fin": 250,
    "ack_cont": 400,
    "ack_cache": 400,
}
#: The ARMv7 build the issue measures (static, so qemu-arm needs no sysroot).
ARM_CC = "arm-linux-gnueabihf-gcc"
ARM_CFLAGS = ["-O2", "-march=armv7-a", "-mfpu=vfpv3-d16", "-static"]


def _core_sources() -> list[str]:
    return [str(REPO / "bench" / "core_bench.c")] + sorted(
        str(p) for p in (REPO / "slhttpd" / "core").glob("*.c")
    )


def core_costs(iters: int, flags: list[str]) -> tuple[str, dict[str, float]]:
    """Build bench/core_bench.c; its timings, and instructions per call under callgrind."""
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / "core_bench"
    cmd = ["cc", "-std=gnu11", "-O2", "-g", "-I", str(REPO / "slhttpd" / "core"), "-o", str(exe),
           *_core_sources()]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=300)
    table = subprocess.run(
        [str(exe), "--iters", str(iters), *flags],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout  # fmt: skip
    instr: dict[str, float] = {}
    if shutil.which("valgrind"):
        paths = [ln.split()[0] for ln in table.splitlines()[1:] if ln.strip()]
        n = 2000
        for path in paths:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp, "cg.out")
                subprocess.run(
                    ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                     f"--callgrind-out-file={out}", str(exe), "--iters", str(n), "--path", path,
                     *flags],
                    capture_output=True, check=True, timeout=600,
                )  # fmt: skip
                totals = [
                    int(m.group(1))
                    for d in Path(tmp).glob("cg.out*")
                    for m in [re.search(r"^totals: (\d+)", d.read_text(), re.M)]
                    if m
                ]
                if totals:
                    instr[path] = max(totals) / n
    return table, instr


#: core_bench's own code: its loop over the calls (main) and one frame in, every frame out
#: (run_once: the struct sl_rx, the sl_emit loop). Counted in "per received frame" as a
#: driver's loop would be, and shown apart (the core alone) by arm_split().
HARNESS_SYMBOLS = {"main", "run_once", "prepare"}


def arm_counts(paths: list[str], flags: list[str]) -> dict[str, float]:
    """Exact ARMv7 instructions per call of each path: core_bench built for ARMv7, run under
    ``qemu-arm -one-insn-per-tb -d exec,nochain`` (every executed instruction logs one
    ``Trace`` line) with two --iters counts; the difference divided by the difference of the
    counts is one call, everything else (start, setup, printing) cancels out."""
    return {p: total for p, (total, _) in arm_split(paths, flags).items()}


def arm_split(paths: list[str], flags: list[str]) -> dict[str, tuple[float, float]]:
    """Per path, (all, harness): arm_counts()'s exact count of one call, and the part of it
    executed in core_bench's own functions (HARNESS_SYMBOLS), not in the core."""
    exe = _arm_build()
    if not shutil.which("qemu-arm") or exe is None:
        return {}
    syms = _arm_symbols(exe)
    starts = [a for a, _ in syms]
    lo, hi = 3, 11
    out: dict[str, tuple[float, float]] = {}
    for path in paths:
        a, b = _qemu_pcs(exe, lo, path, flags), _qemu_pcs(exe, hi, path, flags)
        total = harness = 0
        for pc in set(a) | set(b):
            n = b.get(pc, 0) - a.get(pc, 0)
            total += n
            i = bisect.bisect_right(starts, pc) - 1
            if i >= 0 and syms[i][1] in HARNESS_SYMBOLS:
                harness += n
        out[path] = (total / (hi - lo), harness / (hi - lo))
    return out


def _arm_symbols(exe: Path) -> list[tuple[int, str]]:
    """The ARMv7 binary's functions, by address."""
    nm = subprocess.run(["arm-linux-gnueabihf-nm", "-n", str(exe)], capture_output=True,
                        text=True, check=True).stdout  # fmt: skip
    return [(int(f[0], 16), f[2]) for f in (ln.split() for ln in nm.splitlines())
            if len(f) == 3 and f[1] in "tTwW"]  # fmt: skip


def _arm_build(flags: list[str] | None = None) -> Path | None:
    """core_bench for ARMv7 (static), or None without the cross compiler and qemu-arm."""
    if not shutil.which("qemu-arm") or not shutil.which(ARM_CC):
        return None
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / "core_bench-armv7"
    subprocess.run(
        [ARM_CC, "-std=gnu11", *ARM_CFLAGS, *(flags or []), "-I", str(REPO / "slhttpd" / "core"),
         "-o", str(exe), *_core_sources()],
        check=True, timeout=300,
    )  # fmt: skip
    return exe


def _qemu_pcs(exe: Path, n: int, path: str, flags: list[str]) -> dict[int, int]:
    """Executions per guest PC of core_bench --iters n --path path under qemu-arm."""
    qemu = shutil.which("qemu-arm") or "qemu-arm"
    help_text = subprocess.run([qemu, "-h"], capture_output=True, text=True).stdout
    single = "-one-insn-per-tb" if "one-insn-per-tb" in help_text else "-singlestep"
    proc = subprocess.run(
        [qemu, single, "-d", "exec,nochain", str(exe), "--iters", str(n), "--path", path,
         "--no-time", *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, timeout=600,
    )  # fmt: skip
    pcs: dict[int, int] = {}
    for m in re.finditer(rb"Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/", proc.stderr):
        pc = int(m.group(1), 16)
        pcs[pc] = pcs.get(pc, 0) + 1
    return pcs


def arm_profile(paths: list[str], flags: list[str]) -> None:
    """Per function (the ARMv7 binary's symbol table), exact instructions of one call of each
    path: where the count of arm_counts() goes. Inlined functions count in their caller;
    run_once and main are the benchmark's own loop, not the core."""
    exe = _arm_build()
    if exe is None:
        raise SystemExit(f"needs {ARM_CC} and qemu-arm")
    syms = _arm_symbols(exe)
    starts = [a for a, _ in syms]
    for path in paths:
        lo, hi = _qemu_pcs(exe, 3, path, flags), _qemu_pcs(exe, 11, path, flags)
        per: dict[str, int] = {}
        for pc in set(lo) | set(hi):
            i = bisect.bisect_right(starts, pc) - 1
            name = syms[i][1] if i >= 0 else "?"
            per[name] = per.get(name, 0) + hi.get(pc, 0) - lo.get(pc, 0)
        total = sum(per.values()) / 8
        print(f"\n{path} ({' '.join(flags)}): {total:.0f} ARMv7 instructions per received frame")
        for name, n in sorted(per.items(), key=lambda kv: -kv[1]):
            if abs(n) >= 4:
                print(f"  {n / 8:8.1f}  {name}")


def print_core_costs(iters: int) -> None:
    """Per path: x86 callgrind and exact ARMv7 instructions per received frame (and per frame
    out), for each configuration in CORE_CONFIGS (frames out differ: without timestamps an ACK
    releases fewer segments)."""
    cols: dict[str, tuple[dict[str, int], dict[str, float], dict[str, float]]] = {}
    split: dict[str, tuple[float, float]] = {}
    for name, flags in CORE_CONFIGS.items():
        table, x86 = core_costs(iters, flags)
        frames = {ln.split()[0]: int(ln.split()[1]) for ln in table.splitlines()[1:] if ln.strip()}
        if name == "offload":
            split = arm_split(list(frames), flags)
            arm = {p: total for p, (total, _) in split.items()}
        else:
            arm = arm_counts(list(frames), flags)
        cols[name] = (frames, x86, arm)
    print("\nSLHTTPD core, instructions per received frame (sl_input + every sl_emit of its "
          "reply);\nx86-64 by callgrind, ARMv7 exact (qemu-arm, "
          f"{' '.join(ARM_CFLAGS)}); 'out': frames sent, '/out': per frame sent")  # fmt: skip
    for name, flags in CORE_CONFIGS.items():
        print(f"  {name:14} core_bench {' '.join(flags)}")
    print(f"  {'':9}" + "".join(f" | {name:^24}" for name in cols))
    print(f"  {'path':9}" + f" | {'out':>4}{'x86':>7}{'armv7':>7}{'/out':>6}" * len(cols))
    paths = list(next(iter(cols.values()))[0])
    for path in paths:
        line = f"  {path:9}"
        for frames, x86, arm in cols.values():
            nout, a = frames.get(path, 0), arm.get(path)
            line += f" | {nout:>4}{x86.get(path, float('nan')):>7.0f}"
            line += f"{a:>7.0f}" if a is not None else f"{'-':>7}"
            line += f"{a / nout:>6.0f}" if a is not None and nout else f"{'-':>6}"
        print(line)
    if split:
        print("  of the ARMv7 offload counts, core_bench's own loop (main, run_once: "
              "not the core): "
              + ", ".join(f"{p} {h:.0f}" for p, (_, h) in split.items()))  # fmt: skip
    frames, _, arm = cols.get("offload", ({}, {}, {}))
    if arm:
        got = []
        for path, budget in ARM_TARGETS.items():
            a = arm.get(path)
            if a is not None:
                nout = frames.get(path) if path.startswith("ack_c") else 1
                per, core = a / (nout or 1), (a - split.get(path, (0, 0))[1]) / (nout or 1)
                got.append(f"{path} {per:.0f} (core alone {core:.0f}; <= {budget}"
                           f"{', met' if per <= budget else ''})")  # fmt: skip
        print("issue 10 budget, ARMv7 offload with timestamps (ack_cont, ack_cache per frame out): "
              + ", ".join(got))  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10, help="each wrk run (default 10)")
    ap.add_argument("--conns", type=int, default=32, help="wrk connections (default 32)")
    ap.add_argument("--object", type=int, default=1024, help="object size, bytes (default 1024)")
    ap.add_argument("--core-iters", type=int, default=500000, help="core_bench loop length")
    ap.add_argument("--skip-net", action="store_true", help="only the core costs")
    ap.add_argument("--skip-core", action="store_true", help="only the network runs")
    ap.add_argument("--syn-seconds", type=int, default=5, help="SYN flood per server (0: none)")
    ap.add_argument("--arm-profile", metavar="PATHS",
                    help="only: ARMv7 instructions per function for these core_bench paths "
                         "(comma-separated), offload configuration with timestamps")  # fmt: skip
    args = ap.parse_args()
    if args.arm_profile:
        arm_profile(args.arm_profile.split(","), CORE_CONFIGS["offload"])
        return 0

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{_cpu_model()}, kernel {platform.release()}")  # fmt: skip
    runs: list[Run] = []
    if not args.skip_net:
        netns.require_tools("ip", "ethtool")
        if shutil.which("wrk") is None:
            raise SystemExit("wrk not found: apt-get install wrk")
        topo = netns.Topology(prefix="lrb")
        netns.create(topo)
        syns: list[SynRun] = []
        stats_path = Path("/proc/sys/kernel/bpf_stats_enabled")
        stats_was = stats_path.read_text().strip()
        try:
            build(asan=False, xdp=True)
            # the XDP frontend's XDP_TX needs it; all three servers run with it (fairness)
            netns.attach_xdp_pass(topo, XDP_PASS_OBJ)
            stats_path.write_text("1")
            print(f"wrk -t1 -c{args.conns} -d{args.seconds}s, object {args.object} bytes, veth "
                  f"between namespaces {topo.client_ns} and {topo.server_ns}")  # fmt: skip
            runs += bench_slhttpd(topo, args, "xdp", syns)
            runs += bench_slhttpd(topo, args, "afpacket", syns)
            runs += bench_nginx(topo, args)
        finally:
            stats_path.write_text(stats_was)
            netns.destroy(topo)
        _print_runs(runs, syns)
    if args.skip_core:
        return 0
    print_core_costs(args.core_iters)
    return 0


def _print_runs(runs: list[Run], syns: list[SynRun]) -> None:
    by = {(r.server, r.mode): r for r in runs}
    servers = ("slhttpd-xdp", "slhttpd", "nginx")
    print(f"\n{'':36}{'SLHTTPD XDP':>13}{'AF_PACKET':>13}{'nginx-light':>13}")
    rows = [
        ("requests/s, keep-alive", "keep-alive", lambda r: f"{r.wrk.rps:.0f}"),
        ("connections/s, close mode", "close", lambda r: f"{r.wrk.rps:.0f}"),
        ("server CPU us/request, keep-alive", "keep-alive", lambda r: f"{r.cpu_us_per_req:.2f}"),
        ("server CPU us/request, close", "close", lambda r: f"{r.cpu_us_per_req:.2f}"),
        ("wrk socket errors + non-2xx (ka)", "keep-alive",
         lambda r: str(sum(r.wrk.socket_errors.values()) + r.wrk.non_2xx)),
        ("wrk socket errors + non-2xx (close)", "close",
         lambda r: str(sum(r.wrk.socket_errors.values()) + r.wrk.non_2xx)),
    ]  # fmt: skip
    for label, mode, fmt in rows:
        cells = [fmt(by[(s, mode)]) if (s, mode) in by else "-" for s in servers]
        print(f"{label:36}{cells[0]:>13}{cells[1]:>13}{cells[2]:>13}")
    for mode in ("keep-alive", "close"):
        ng = by.get(("nginx", mode))
        cells = [
            f"{ng.cpu_us_per_req / by[(s, mode)].cpu_us_per_req:.2f}x"
            if ng and (s, mode) in by
            else "-"
            for s in servers
        ]
        print(f"{'nginx CPU / server CPU, ' + mode:36}{cells[0]:>13}{cells[1]:>13}{cells[2]:>13}")
    sy = {r.server: r for r in syns}
    cells = [f"{sy[s].mpps_per_core:.3f}" if s in sy else "-" for s in servers]
    print(f"{'SYN->SYN-ACK Mpps per server core':36}{cells[0]:>13}{cells[1]:>13}{cells[2]:>13}")
    print(
        "(XDP server CPU: the frontend process plus the XDP programs' run time, "
        "kernel.bpf_stats_enabled; nginx SYN: in the kernel's softirq, not measured)"
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except LinerateError as exc:
        raise SystemExit(f"bench: error: {exc}") from None
