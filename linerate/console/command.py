"""``linerate console``: this terminal on a board's serial console, with a transcript.

Like picocom with the profile's baud rate, plus a transcript of everything the
board sent (artifacts/console/<board>-<time>.log unless --transcript). Ctrl-]
quits. With --board virt and no --port, a virtual board is started and stopped.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import serial

from linerate import ROOT
from linerate.board.profile import available, load_profile
from linerate.console.relay import relay
from linerate.errors import LinerateError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "console",
        help="interactive serial console of a board (transcript saved; Ctrl-] quits)",
        description=(
            "Attach this terminal to a board's console at the profile's baud rate and save "
            "a transcript. Without --port, --board virt starts a virtual board."
        ),
    )
    p.add_argument("--board", required=True, help=f"board profile ({', '.join(available())})")
    p.add_argument("--port", help="serial console device (e.g. /dev/ttyUSB0)")
    p.add_argument("--baud", type=int, help="override the profile's baud rate")
    p.add_argument("--transcript", type=Path, help="transcript file (default under artifacts/)")
    p.set_defaults(func=run)


def open_serial(device: str, baud: int) -> serial.Serial:
    try:
        return serial.Serial(device, baud, timeout=0, exclusive=True)
    except (serial.SerialException, OSError) as exc:
        text = str(exc)
        if "busy" in text.lower() or "lock" in text.lower():
            hint = "another program holds it (screen, minicom, picocom, a test run)"
        elif "No such file" in text:
            hint = "no such device: check the adapter is plugged in (ls /dev/ttyUSB*)"
        elif "Permission" in text:
            hint = "no permission: run as root or join the 'dialout' group"
        else:
            hint = "check the device name"
        raise LinerateError(f"cannot open {device}: {text}: {hint}") from exc


def run(args: argparse.Namespace) -> int:
    profile = load_profile(args.board)
    baud = args.baud or profile.console.baud
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.transcript or ROOT / "artifacts" / "console" / f"{profile.name}-{stamp}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    board = None
    device = args.port
    if device is None:
        if not profile.virtual:
            raise LinerateError(f"board {profile.name} is real hardware: give --port")
        from linerate.vboard.images import build_images
        from linerate.vboard.launcher import VirtualBoard

        board = VirtualBoard(build_images())
        board.start(paused=True)
        device = board.pty
        assert device is not None
    try:
        ser = open_serial(device, baud)
        print(
            f"console: {device} at {baud} baud, transcript {path}; Ctrl-] quits",
            file=sys.stderr,
            flush=True,
        )
        with path.open("ab") as log:
            if board is not None:
                board.resume()
            relay(
                ser.fileno(),
                ser.write,
                (lambda: board.running) if board is not None else (lambda: True),
                log=log,
                who="linerate console",
            )
        ser.close()
    finally:
        if board is not None:
            board.cleanup()
    print(f"\nconsole: transcript saved in {path}", file=sys.stderr)
    return 0
