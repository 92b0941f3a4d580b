"""``linerate vboard``: build what is missing and run the virtual board."""

from __future__ import annotations

import argparse
import signal
import time
import urllib.request
from typing import Any

from linerate.errors import LinerateError
from linerate.vboard.images import build_images
from linerate.vboard.launcher import NIC_MODELS, VirtualBoard


def register(sub: Any) -> None:
    p = sub.add_parser(
        "vboard",
        help="run the virtual board (QEMU virt + U-Boot + NOR flash + e1000)",
        description=(
            "Build what is missing (initramfs, uImage, U-Boot environment, pflash image; "
            "the kernel comes from `linerate kernel --target virt`, else a Debian stand-in) "
            "and boot the virtual board through U-Boot. Ctrl-C stops it."
        ),
    )
    p.add_argument(
        "--console",
        action="store_true",
        help="attach this terminal to the board's console (Ctrl-] to quit)",
    )
    p.add_argument(
        "--http-port",
        type=int,
        default=8080,
        help="host port on 127.0.0.1 forwarded to the guest's port 80 (default 8080)",
    )
    p.add_argument(
        "--direct",
        action="store_true",
        help="boot the kernel directly (-kernel), without U-Boot and flash",
    )
    p.add_argument(
        "--debian-kernel",
        action="store_true",
        help="use the Debian armmp stand-in kernel even if the project's exists",
    )
    p.add_argument(
        "--board",
        choices=("virt", "vexpress"),
        default="virt",
        help="virt (default), or vexpress: QEMU vexpress-a9 with U-Boot 2011.12 in NOR "
        "(board/vexpress/NOTES.md)",
    )
    p.add_argument(
        "--nic",
        choices=tuple(NIC_MODELS),
        default="e1000",
        help="NIC model of the test port, eth1 (default e1000; virtio: virtio-net-pci); "
        "eth0 stays an e1000 (U-Boot's TFTP)",
    )
    p.add_argument(
        "--tap",
        action="store_true",
        help="cable the test port (eth1) to a tap device in a network namespace of its own, "
        "so Linux TCP clients there reach the guest's driver directly (needs root; "
        "the namespace is deleted when the board stops)",
    )
    p.add_argument("--build-only", action="store_true", help="build the images and stop")
    p.set_defaults(func=run)


def _say(msg: str) -> None:
    print(f"vboard: {msg}", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    # Ctrl-C and SIGTERM both stop the board cleanly (a shell may have started us
    # in the background with SIGINT ignored: take it back).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    t0 = time.monotonic()
    board: VirtualBoard
    if args.board == "vexpress":
        from linerate.vboard.vexpress import VexpressBoard, build_vexpress_images

        if args.direct or args.debian_kernel:
            raise LinerateError("vexpress boots the project's kernel through its U-Boot only")
        if args.tap:
            raise LinerateError("--tap is for the virt board (vexpress has one NIC)")
        if args.nic != "e1000":
            raise LinerateError("--nic is for the virt board (vexpress has its LAN9118)")
        images = build_vexpress_images(progress=_say, build_kernel=True)
        _say(f"images ready in {time.monotonic() - t0:.1f} s")
        if args.build_only:
            return 0
        board = VexpressBoard(images, http_port=args.http_port)
    else:
        if args.tap:
            from linerate.vboard.tap import check_can_create

            check_can_create()  # before the build: say now that root is needed
        images = build_images(progress=_say, prefer_debian=args.debian_kernel, build_kernel=True)
        _say(f"images ready in {time.monotonic() - t0:.1f} s")
        if args.build_only:
            return 0
        board = VirtualBoard(
            images,
            http_port=args.http_port,
            direct_kernel=args.direct,
            tap=args.tap,
            nic=args.nic,
        )
    try:
        board.start(paused=True)
        _describe(board)
        if args.console:
            from linerate.vboard.terminal import attach

            _say("attaching the console (Ctrl-] quits and stops the board)")
            board.resume()
            attach(board.pty or "", lambda: board.running)
        else:
            board.resume()
            _say("running: Ctrl-C stops it")
            _wait_running(board, ready_check=args.board != "vexpress")
            if board.proc is not None and board.proc.returncode not in (0, None):
                raise LinerateError(
                    f"QEMU exited with status {board.proc.returncode}: see {board.log}"
                )
    except KeyboardInterrupt:
        print()
        _say("stopping")
    finally:
        board.cleanup()
    _say("stopped")
    return 0


#: How long after the start `linerate vboard` waits for SLHTTPD to answer before saying so.
READY_WAIT_S = 180.0


def _answers(url: str) -> bool:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with direct.open(url, timeout=1.0) as resp:
            return resp.status == 200 and len(resp.read()) == 64
    except (OSError, ValueError):
        return False


def _wait_running(board: VirtualBoard, ready_check: bool) -> None:
    """Until QEMU exits; meanwhile say once when SLHTTPD answers through the management
    port (the try lines are printed at the start, before the guest has booted)."""
    t0 = time.monotonic()
    url = f"http://127.0.0.1:{board.http_port}/64" if ready_check else ""
    waiting = ready_check
    while board.running:
        if waiting:
            if _answers(url):
                _say(f"ready:    SLHTTPD answers {url} ({time.monotonic() - t0:.0f} s after start)")
                waiting = False
            elif time.monotonic() - t0 > READY_WAIT_S:
                _say(
                    f"not answering {url} after {READY_WAIT_S:.0f} s: see the console "
                    f"({board.pty}) and {board.log}"
                )
                waiting = False
        time.sleep(0.5)


def _describe(board: VirtualBoard) -> None:
    kernel = board.images.kernel
    boot = "kernel directly" if board.direct_kernel else "U-Boot from pflash slot A"
    baud = 115200
    if board.images.machine == "vexpress":
        boot, baud = "U-Boot 2011.12 from NOR bank 0, slot A", 38400
    lines = [
        f"QEMU pid {board.proc.pid if board.proc else '?'}, booting {boot}",
        f"kernel:   {kernel.description}",
        f"console:  {board.pty} (link {board.console_link}), {baud} 8N1",
        f"          attach: picocom -b {baud} {board.pty}   (or: linerate vboard --console)",
        "          U-Boot waits 2 s for a key; the shell prompt is 'linerate-vboard# '",
    ]
    for guest, host in board.forwards.items():
        lines.append(f"http:     127.0.0.1:{host} -> guest 10.0.2.15:{guest}   (management port)")
    cable = board.cable
    if cable is not None:
        lines.append(
            f"test port: eth1 cabled to tap {cable.ifname} ({cable.client_addr}/24) in network "
            f"namespace {cable.netns} (deleted on exit)"
        )
    if board.frames is not None:
        lines.append(
            f"frames:   raw Ethernet frames as UDP datagrams: send to "
            f"{board.frames.into_guest[0]}:{board.frames.into_guest[1]} (into eth1), "
            f"guest frames arrive at {board.frames.from_guest[1]}"
        )
    needs = "" if kernel.has_ndiv else "   (needs the ndiv kernel with SLHTTPD)"
    if cable is not None:
        lines.append(f"try:      {cable.try_line}{needs}")
        lines.append(f"          ip netns exec {cable.netns} wrk -c32 -d10s {cable.url('/1k')}")
        lines.append(f"          (through slirp: curl http://127.0.0.1:{board.http_port}/1k)")
    else:
        lines.append(f"try:      curl http://127.0.0.1:{board.http_port}/1k{needs}")
        if board.images.machine != "vexpress":
            lines.append(
                "          a Linux client straight to the test port: linerate vboard --tap (root)"
            )
    lines.append(f"logs:     {board.log}")
    for line in lines:
        _say(line)
