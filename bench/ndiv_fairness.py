#!/usr/bin/env python3
"""ndiv's transmit path against the kernel's own traffic on the same interface, measured
on the virtual board (issue 11, item 3).

While a flood of handshaken HTTP requests (64-byte requests, SYN -> SYN-ACK -> GET /64)
is answered by SLHTTPD through ndiv on eth1, the host pings the guest kernel's own
address on eth1 (10.0.3.15: the stack answers, through the qdisc, on the same TX
queue). Prints ping delivery and RTT percentiles (alone, then under the flood), the
requests answered, ndiv's counters by reason (reply frames to the driver, through the
qdisc while BQL or the driver had stopped the queue, dropped on the way to it, lost), and
its TX lock hold times
(/proc/net/ndiv: tx_locks, tx_lock_slow = holds over 50 us, tx_lock_ns_max, and the
log2 histogram tx_lock_lt2us ... tx_lock_ge8192us, from which the p50/p99 holds are
given as the bucket that holds them), the guest's interrupts during the flood by handler
(/proc/interrupts), and BQL's bytes in flight on eth1 half a second after it (0: the
driver reported every completion once the requests stopped).

    .venv/bin/python bench/ndiv_fairness.py [--nic e1000|e1000e|igb|virtio] [--seconds 10]
        [--tap]

Default: the raw frame link (QEMU -netdev dgram), crafted frames (SYN, then GET on the
SYN-ACK). --tap (root): the test port cabled to a tap in a namespace, real Linux
clients there: wrk (keep-alive, 32 connections, GET /64) and ping -i 0.01.
The guest is emulated (TCG): its lock hold times include QEMU's emulation of the
doorbell write, which sends the frames synchronously (e1000, e1000e, igb: the vCPU
thread writes them to the tap before the MMIO write returns; virtio-net only kicks, the
frames leave from QEMU's main loop), and any time the host takes the vCPU thread off
its core (2 host cores for the vCPU, QEMU's main loop, wrk and ping): the max is such
a preemption, the percentiles are what the code costs under emulation.

--icount: QEMU's -icount shift=0: the guest's clock advances one nanosecond per guest
instruction and not at all while QEMU emulates a device, so lock holds are the guest's
own work measured as on a 1 GHz single-issue CPU (the AX3's PJ4B cores run at 1.33 GHz),
free of the emulated doorbell and of host preemption; ping RTTs stay host wall-clock
times (the client measures them).
"""

from __future__ import annotations

import argparse
import re
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from linerate.board.strategy import State  # noqa: E402
from linerate.board.target import VirtualTarget  # noqa: E402
from linerate.vboard.frameclient import (  # noqa: E402
    TCP_ACK,
    TCP_PSH,
    TCP_SYN,
    Conn,
    FrameClient,
    icmp_echo_frame,
    ip_bytes,
)
from linerate.vboard.images import build_images  # noqa: E402
from linerate.vboard.launcher import FRAMES_GUEST_ADDR, NIC_MODELS  # noqa: E402

SLHTTPD_ADDR = "10.0.2.15"
# 64 bytes exactly
REQUEST = b"GET /64 HTTP/1.1\r\nHost: b\r\nConnection: close\r\nX: 12345678901\r\n\r\n"
assert len(REQUEST) == 64, len(REQUEST)


@dataclass
class Stats:
    sent_syn: int = 0
    synack: int = 0
    responses: int = 0
    ping_sent: dict[int, float] = field(default_factory=dict)
    rtts: list[float] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def run_phase(c: FrameClient, seconds: float, flood: bool, ping_interval: float) -> Stats:
    st = Stats()
    stop = threading.Event()
    gmac, hmac = (
        bytes.fromhex(c.guest_mac.replace(":", "")),
        bytes.fromhex(c.host_mac.replace(":", "")),
    )
    hip, pip = ip_bytes(c.host_ip), ip_bytes(FRAMES_GUEST_ADDR)

    def receiver() -> None:
        while not stop.is_set():
            f = c.recv(0.02)
            if f is None:
                continue
            if f.proto == 1 and f.icmp_type == 0 and f.icmp_id == 0x4C52:
                t = st.ping_sent.get(f.icmp_seq)
                if t is not None:
                    st.rtts.append(time.monotonic() - t)
            elif f.proto == 6 and f.flags & TCP_SYN and f.flags & TCP_ACK:
                st.synack += 1
                conn = Conn(sport=f.dport, seq=(f.ack) & 0xFFFFFFFF, ack=(f.seq + 1) & 0xFFFFFFFF)
                conn.ts_recent = f.tsval
                c.send(c.tcp(SLHTTPD_ADDR, conn, 80, TCP_PSH | TCP_ACK, REQUEST))
            elif f.proto == 6 and f.payload.startswith(b"HTTP/1.1 "):
                st.responses += 1

    def flooder() -> None:
        port = 20000
        while not stop.is_set():
            for _ in range(16):
                conn = Conn(sport=port, seq=(port * 2654435761) & 0xFFFFFFFF, ack=0)
                c.send(c.tcp(SLHTTPD_ADDR, conn, 80, TCP_SYN, mss=1460))
                st.sent_syn += 1
                port = 20000 + (port - 19999) % 40000
            time.sleep(0.001)

    def pinger() -> None:
        seq = 0
        while not stop.is_set():
            seq = (seq + 1) & 0xFFFF
            st.ping_sent[seq] = time.monotonic()
            c.send(icmp_echo_frame(gmac, hmac, hip, pip, 0x4C52, seq, struct.pack("!d", 0) * 7))
            time.sleep(ping_interval)

    threads = [threading.Thread(target=receiver), threading.Thread(target=pinger)]
    if flood:
        threads.append(threading.Thread(target=flooder))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    # late replies: the last second of pings is not counted
    cutoff = max(st.ping_sent.values(), default=0) - 1.0
    st.ping_sent = {k: v for k, v in st.ping_sent.items() if v <= cutoff}
    return st


HIST_RE = re.compile(r"tx_lock_(lt|ge)(\d+)us")


def hold_buckets(counters: dict[str, int]) -> list[tuple[str, int]]:
    """(label, holds) of the lock hold histogram, shortest first."""
    out = []
    low = 0
    for name, n in counters.items():
        m = HIST_RE.fullmatch(name)
        if not m:
            continue
        bound = int(m.group(2))
        if m.group(1) == "ge":
            out.append((f">= {bound} us", n))
        else:
            out.append((f"{low}-{bound} us" if low else f"< {bound} us", n))
            low = bound
    return out


def hold_percentile(buckets: list[tuple[str, int]], p: float) -> str:
    """The bucket holding the p-th percentile hold."""
    total = sum(n for _, n in buckets)
    if not total:
        return "n/a"
    seen = 0
    for label, n in buckets:
        seen += n
        if seen >= p / 100 * total:
            return label
    return buckets[-1][0]


def ndiv_eth1(target: VirtualTarget) -> dict[str, int]:
    lines = target.strategy.shell.check("cat /proc/net/ndiv").splitlines()
    header = lines[0].split()
    for line in lines[1:]:
        row = line.split()
        if row[0] == "eth1":
            return {k: int(v) for k, v in zip(header[2:], row[2:], strict=True)}
    raise SystemExit("SLHTTPD is not attached to eth1")


def interrupts(target: VirtualTarget) -> dict[str, int]:
    """Guest interrupts by handler name (/proc/interrupts, all CPUs summed)."""
    out: dict[str, int] = {}
    lines = target.strategy.shell.check("cat /proc/interrupts").splitlines()
    ncpu = len(lines[0].split())
    for line in lines[1:]:
        row = line.split()
        if len(row) < ncpu + 2 or not row[0].endswith(":") or not row[1].isdigit():
            continue
        out[row[-1]] = out.get(row[-1], 0) + sum(int(v) for v in row[1 : ncpu + 1])
    return out


def report(name: str, st: Stats, seconds: float) -> None:
    sent = len(st.ping_sent)
    delivered = min(len(st.rtts), sent)
    ms = [r * 1000 for r in st.rtts]
    print(
        f"{name}: ping {delivered}/{sent} delivered ({100 * delivered / max(sent, 1):.2f} %), "
        f"RTT p50 {percentile(ms, 50):.2f} ms, p99 {percentile(ms, 99):.2f} ms, "
        f"max {max(ms, default=float('nan')):.2f} ms"
    )
    if st.sent_syn:
        print(
            f"{name}: {st.sent_syn} SYNs sent, {st.synack} SYN-ACKs, {st.responses} responses "
            f"({st.responses / seconds:.0f} requests/s answered)"
        )


def tap_phase(target: VirtualTarget, seconds: float, flood: bool, interval: float) -> Stats:
    cab = target.vboard.cable
    assert cab is not None
    st = Stats()
    wrk = None
    if flood:
        wrk = subprocess.Popen(
            cab.argv(
                *("wrk", "-t", "1", "-c", "32", "-d", f"{seconds + 1:.0f}s"),
                "http://10.0.2.15/64",
            ),
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
    count = int(seconds / interval)
    ping = subprocess.run(
        cab.argv("ping", "-n", "-i", f"{interval}", "-c", str(count), "-W", "1", "10.0.3.15"),
        capture_output=True,
        text=True,
    )
    for m in re.finditer(r"icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms", ping.stdout):
        st.rtts.append(float(m.group(2)) / 1000)
    st.ping_sent = {i: 0.0 for i in range(count)}
    if wrk is not None:
        out, _ = wrk.communicate()
        done = re.search(r"(\d+) requests in", out)
        st.responses = int(done.group(1)) if done else 0
        st.sent_syn = st.synack = 0
        print(out.strip())
    return st


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nic", choices=tuple(NIC_MODELS), default="e1000")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--ping-interval", type=float, default=0.01)
    ap.add_argument("--tap", action="store_true", help="real clients over a tap (root)")
    ap.add_argument(
        "--icount", action="store_true", help="guest clock = its instruction count (1 ns each)"
    )
    args = ap.parse_args()
    images = build_images(progress=lambda m: None, build_kernel=True)
    with VirtualTarget(
        images=images,
        boot_to=State.SHELL,
        nic=args.nic,
        tap=args.tap,
        board_options={"icount": args.icount},
    ) as board:
        assert isinstance(board, VirtualTarget)
        target = board
        sh = target.strategy.shell
        clock = "guest instructions (-icount shift=0)" if args.icount else "wall clock (TCG)"
        print(f"board: --nic {args.nic}, {target.kernel_description}; guest clock: {clock}")
        # fresh ndiv counters on eth1: attach again
        sh.check("echo eth0 > /sys/module/slhttpd/parameters/ifaces")
        sh.check("echo eth0,eth1 > /sys/module/slhttpd/parameters/ifaces")
        if FRAMES_GUEST_ADDR not in sh.check("ip -4 addr show eth1"):
            sh.check(f"ip addr add {FRAMES_GUEST_ADDR}/24 dev eth1; ip link set eth1 up")
        mac = sh.check("cat /sys/class/net/eth1/address")
        if args.tap:
            alone = tap_phase(target, min(5.0, args.seconds), False, args.ping_interval)
            report("ping alone     ", alone, args.seconds)
            before = ndiv_eth1(target)
            irq_before = interrupts(target)
            flood = tap_phase(target, args.seconds, True, args.ping_interval)
            irq_after = interrupts(target)
            report("ping under flood", flood, args.seconds)
            print(f"wrk: {flood.responses} requests answered in {args.seconds:.0f} s")
            after = ndiv_eth1(target)
        else:
            assert target.vboard.frames is not None
            with FrameClient(target.vboard.frames, mac) as c:
                alone = run_phase(c, min(5.0, args.seconds), False, args.ping_interval)
                report("ping alone     ", alone, args.seconds)
                before = ndiv_eth1(target)
                irq_before = interrupts(target)
                flood = run_phase(c, args.seconds, True, args.ping_interval)
                irq_after = interrupts(target)
                report("ping under flood", flood, args.seconds)
                after = ndiv_eth1(target)
        time.sleep(0.5)
        inflight = sh.check("cat /sys/class/net/eth1/queues/tx-*/byte_queue_limits/inflight")
        print(f"BQL on eth1 0.5 s after the flood: {' + '.join(inflight.split())} bytes in flight")
        irqs = {k: n - irq_before.get(k, 0) for k, n in irq_after.items()}
        print(
            "guest interrupts during the flood: "
            + " ".join(f"{k}={n}" for k, n in sorted(irqs.items()) if n)
        )
        diff = {k: after[k] - before[k] for k in after if k != "tx_lock_ns_max"}
        print("ndiv eth1 during the flood: " + " ".join(f"{k}={v}" for k, v in diff.items()))
        if "tx_qdisc" in diff:  # kernels before the qdisc path: tx_bql instead
            print(
                f"reply frames: {diff['tx_frames']} to the driver, {diff['tx_qdisc']} through "
                f"the qdisc (queue stopped by BQL or the driver), {diff['tx_qdisc_drop']} "
                f"dropped on the way to it"
            )
        locks = max(diff["tx_locks"], 1)
        buckets = hold_buckets(diff)
        print(
            f"TX lock: {diff['tx_locks']} holds (chunks of <= 8 frames), "
            f"{diff['tx_lock_slow']} over 50 us ({100 * diff['tx_lock_slow'] / locks:.2f} %), "
            f"p50 {hold_percentile(buckets, 50)}, p99 {hold_percentile(buckets, 99)}, "
            f"longest {after['tx_lock_ns_max'] / 1000:.1f} us (since attach)"
        )
        print("TX lock holds: " + ", ".join(f"{label}: {n}" for label, n in buckets if n))
        bad = [
            ln
            for ln in sh.kernel_log().splitlines()
            if "WARNING" in ln or "BUG" in ln or "Oops" in ln
        ]
        if bad:
            print("kernel warnings:\n" + "\n".join(bad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
