"""`linerate serve`: run the SLHTTPD userspace frontend on an interface, or as a demo.

``linerate serve --iface NAME --addr A.B.C.D --ports 80,8000-8999`` serves on an existing
interface of the current network namespace. ``linerate serve --demo`` (what ``make run`` does)
builds a server/client namespace pair joined by a veth (see linerate.host.netns), serves on the
server end and prints what to try from the client side; Ctrl-C stops, prints the counters and
removes the namespaces.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import subprocess
import sys
import time
from pathlib import Path

from linerate.errors import LinerateError, UsageError
from linerate.host import netns
from linerate.host.frontend import MODES, XDP_PASS_OBJ, Frontend, build, parse_ports


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the SLHTTPD userspace frontend (or --demo in network namespaces)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--iface", help="interface to serve on (current network namespace)")
    p.add_argument("--addr", help="IPv4 address to serve (not configured on the kernel side)")
    p.add_argument("--ports", default="80,8000-8999", help="TCP ports, e.g. 80,8000-8999")
    p.add_argument("--mss", type=int, help="our MSS (default: interface MTU - 40)")
    p.add_argument("--max-body", type=int, help="largest object served, bytes")
    p.add_argument("--fast-close", action="store_true", help="RST instead of the last ACK")
    p.add_argument("--asan", action="store_true", help="run the ASan+UBSan build")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="afpacket",
        help="afpacket (default), or xdp: the core in an XDP program, no kernel module "
        "(slhttpd/xdp/README.md)",
    )
    p.add_argument(
        "--queues",
        type=int,
        help="xdp: AF_XDP sockets on RX queues 0..N-1 only (default: every RX queue of the "
        "interface); with --demo, also the veth's number of queues",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="create namespaces lr-server/lr-client + veth and serve 10.77.0.1 there",
    )
    p.add_argument("--prefix", default="lr", help="namespace name prefix for --demo")
    p.set_defaults(func=run)


def _extra_args(args: argparse.Namespace) -> list[str]:
    extra: list[str] = []
    if args.mss is not None:
        extra += ["--mss", str(args.mss)]
    if args.max_body is not None:
        extra += ["--max-body", str(args.max_body)]
    if args.fast_close:
        extra.append("--fast-close")
    if args.queues is not None:
        if args.mode != "xdp":
            raise UsageError("--queues is for --mode xdp (AF_PACKET sees every queue)")
        if args.queues < 1:
            raise UsageError(f"--queues {args.queues}: at least 1")
        extra += ["--queues", str(args.queues)]
    return extra


def _check_addr(addr: str | None) -> str:
    if not addr:
        raise UsageError("--addr is required (the IPv4 address to serve, e.g. 10.77.0.1)")
    try:
        ipaddress.IPv4Address(addr)
    except ValueError:
        raise UsageError(f"--addr '{addr}' is not an IPv4 address (A.B.C.D)") from None
    return addr


def _wait(fe: Frontend) -> int:
    """Wait for Ctrl-C / SIGTERM or for the frontend to exit; return its exit code."""
    assert fe.proc is not None
    stop = False

    def on_term(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    old = signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C stops it even when a shell started us in the background with SIGINT
    # ignored (as `make test &` does): take it back, as linerate vboard does.
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while not stop and fe.proc.poll() is None:
            try:
                time.sleep(0.2)
            except KeyboardInterrupt:
                break
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, old_int)
    code = fe.stop()
    sys.stdout.write(fe.stdout_text)
    sys.stderr.write(fe.stderr_text)
    return 0 if code in (0, None) else int(code)


def serve_iface(args: argparse.Namespace) -> int:
    addr = _check_addr(args.addr)
    parse_ports(args.ports)
    if not netns.has_capabilities(netns.CAP_NET_RAW):
        raise LinerateError(
            "serving needs CAP_NET_RAW (an AF_PACKET socket): run as root, e.g. "
            "sudo linerate serve ..."
        )
    if not Path("/sys/class/net", args.iface).exists():
        raise LinerateError(
            f"no interface '{args.iface}' in this network namespace: check `ip link` "
            "(or use `ip netns exec NS linerate serve ...`)"
        )
    if not (Path("/sys/class/net", args.iface) / "address").read_text().strip():
        raise LinerateError(f"'{args.iface}' has no MAC address: an Ethernet interface is needed")
    extra = _extra_args(args)
    build(args.asan, xdp=args.mode == "xdp")
    fe = Frontend(
        iface=args.iface,
        addr=addr,
        ports=args.ports,
        asan=args.asan,
        extra=extra,
        mode=args.mode,
    )
    fe.start()
    print(f"serving http://{addr}/ on {args.iface}, ports {args.ports}: Ctrl-C stops")
    return _wait(fe)


def serve_demo(args: argparse.Namespace) -> int:
    parse_ports(args.ports)
    if not netns.has_capabilities(netns.CAP_NET_ADMIN, netns.CAP_SYS_ADMIN, netns.CAP_NET_RAW):
        raise LinerateError(
            "the demo creates network namespaces and a raw socket: it needs CAP_NET_ADMIN, "
            "CAP_SYS_ADMIN and CAP_NET_RAW; run as root (sudo make run)"
        )
    extra = _extra_args(args)
    build(args.asan, xdp=args.mode == "xdp")
    topo = netns.Topology(prefix=args.prefix)
    netns.create(topo, queues=args.queues or 1)
    try:
        if args.mode == "xdp":
            netns.attach_xdp_pass(topo, XDP_PASS_OBJ)
        fe = Frontend(
            iface=topo.server_if,
            addr=topo.server_addr,
            ports=args.ports,
            netns=topo.server_ns,
            asan=args.asan,
            extra=extra,
            mode=args.mode,
        )
        fe.start()
        c, a = topo.client_ns, topo.server_addr
        print(
            f"SLHTTPD serves http://{a}/ (ports {args.ports}) in namespace {topo.server_ns}.\n"
            f"Try, from another terminal:\n"
            f"  ip netns exec {c} curl -sv http://{a}/1k | tail -3\n"
            f"  ip netns exec {c} curl -sI http://{a}:8080/64\n"
            f"  ip netns exec {c} ping -c 3 {a}\n"
            f"  ip netns exec {c} wrk -t1 -c10 -d5s http://{a}/1k\n"
            f"  ip netns exec {c} wrk -t1 -c10 -d5s -H 'Connection: close' http://{a}/64\n"
            f"  kill -USR1 {fe.pid}     # print the counters\n"
            f"Ctrl-C stops, prints the counters and removes the namespaces.",
            flush=True,
        )
        return _wait(fe)
    finally:
        netns.destroy(topo)


def run(args: argparse.Namespace) -> int:
    if args.demo:
        if args.iface or args.addr:
            raise UsageError("--demo makes its own interface and address: drop --iface/--addr")
        return serve_demo(args)
    if not args.iface:
        raise UsageError("give --iface NAME --addr A.B.C.D, or --demo")
    try:
        return serve_iface(args)
    except subprocess.TimeoutExpired as exc:
        raise LinerateError(f"timed out: {exc}") from None
