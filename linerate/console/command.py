"""``linerate console``: this terminal on a board's serial console, with a transcript.

Like picocom with the profile's baud rate, plus a transcript of everything the
board sent (artifacts/console/<board>-<time>.log unless --transcript). Ctrl-]
quits. With --board virt and no --port, a virtual board is started and stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linerate import ROOT
from linerate.board.profile import available, load_profile
from linerate.console.errors import PortError
from linerate.console.link import Link
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
    p.add_argument(
        "--port",
        help="serial console: /dev/ttyUSB0, a pty, rfc2217://HOST:PORT or socket://HOST:PORT",
    )
    p.add_argument("--baud", type=int, help="override the profile's baud rate")
    p.add_argument("--transcript", type=Path, help="transcript file (default under artifacts/)")
    p.set_defaults(func=run)


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
        from linerate.board.target import launch
        from linerate.vboard.images import build_board_images

        board = launch(build_board_images(profile.name), run_dir=None, direct_kernel=False)
        board.start(paused=True)
        device = board.pty
        assert device is not None
    try:
        try:
            link = Link(device, baud).open()
        except PortError as exc:
            raise LinerateError(str(exc)) from exc
        print(
            f"console: {device} at {baud} baud, transcript {path}; Ctrl-] quits",
            file=sys.stderr,
            flush=True,
        )
        with path.open("ab") as log:
            if board is not None:
                board.resume()
            fd = link.fileno()
            relay(
                fd,
                lambda data: os.write(fd, data),
                (lambda: board.running) if board is not None else (lambda: True),
                log=log,
                who="linerate console",
            )
        link.close()
    finally:
        if board is not None:
            board.cleanup()
    print(f"\nconsole: transcript saved in {path}", file=sys.stderr)
    return 0
