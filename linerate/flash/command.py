"""``linerate flash``: write an image to a board through U-Boot (or the running appliance)."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linerate import ROOT
from linerate.board.profile import available, load_profile
from linerate.board.target import VirtualTarget, open_target
from linerate.errors import LinerateError
from linerate.flash.flasher import MEDIA, default_medium, deployed_env, flash, tftp_overrides
from linerate.flash.guard import require_lab
from linerate.flash.nor import NorResult
from linerate.flash.progress import Progress
from linerate.flash.ubi import UbiResult
from linerate.survey.lab import Lab, default_lab_path, load_lab
from linerate.survey.survey import Surveyor
from linerate.vboard.images import build_board_images


def register(sub: Any) -> None:
    p = sub.add_parser(
        "flash",
        help="flash a board: TFTP (or ymodem) to RAM, CRC, write the inactive slot, verify",
        description=(
            "Write an image to a board over its serial console. The flasher runs its own "
            "TFTP server, checks the image's CRC in the board's RAM before erasing anything, "
            "writes the inactive A/B slot, reads it back, and only then switches the boot "
            "slot. Without --port, --board virt starts a throw-away virtual board."
        ),
    )
    p.add_argument("--board", required=True, help=f"board profile ({', '.join(available())})")
    p.add_argument(
        "--port",
        help="serial console: /dev/ttyUSB0, a pty, rfc2217://HOST:PORT or socket://HOST:PORT",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--image", type=Path, help="image file to write")
    src.add_argument(
        "--from-build",
        action="store_true",
        help="take the image the build deployed (the profile's images:) [default]",
    )
    p.add_argument("--medium", choices=MEDIA, help="what to write (default: nor, else nand)")
    p.add_argument("--slot", choices=("a", "b"), help="NOR slot (default: the inactive one)")
    p.add_argument(
        "--transport",
        choices=("auto", "tftp", "ymodem"),
        default="auto",
        help="how the image reaches RAM (auto: TFTP, ymodem for small files if TFTP fails)",
    )
    p.add_argument("--server-ip", help="this host's address on the board's network (TFTP)")
    p.add_argument("--board-ip", help="address U-Boot uses for the transfer")
    p.add_argument(
        "--boot", action="store_true", help="boot the board afterwards, wait for a shell"
    )
    p.add_argument(
        "--lab",
        type=Path,
        help="this unit's lab file from linerate survey (default: the board's in the lab dir)",
    )
    p.add_argument(
        "--rescue-kernel",
        type=Path,
        help="kernel uImage for the rescue boot that writes UBI from Linux, when this unit's "
        "U-Boot has no nand write.trimffs (default: the build's nand-kernel image)",
    )
    p.add_argument("--transcript", type=Path, help="console transcript (default under artifacts/)")
    p.set_defaults(func=run)


def _lab(args: argparse.Namespace, board: str) -> Lab | None:
    path = args.lab or default_lab_path(board)
    if args.lab is not None or path.is_file():
        return load_lab(path)
    return None


def _image(
    args: argparse.Namespace,
    target_image: Path | None,
    profile_images: dict[str, str],
    medium: str,
    board: str,
) -> Path:
    if args.image is not None:
        return Path(args.image)
    if target_image is not None:
        return target_image
    rel = profile_images.get(medium)
    if rel is None:
        raise LinerateError(f"board {board} has no built image for {medium}: give --image")
    path = ROOT / rel
    if not path.is_file():
        raise LinerateError(
            f"{path} does not exist: build it (kas build kas.yml:board/{board}/kas.yml) or give "
            "--image"
        )
    return path


def _rescue_kernel(images: dict[str, str]) -> Path | None:
    rel = images.get("nand-kernel")
    path = ROOT / rel if rel else None
    return path if path is not None and path.is_file() else None


def run(args: argparse.Namespace) -> int:
    profile = load_profile(args.board)
    medium = args.medium or default_medium(profile)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    transcript = args.transcript or ROOT / "artifacts" / "flash" / f"{profile.name}-{stamp}.log"
    progress = Progress()
    tftp = tftp_overrides(profile.tftp, args.server_ip, args.board_ip)
    if args.image is not None and not Path(args.image).is_file():
        raise LinerateError(f"no image file {args.image}")
    if args.image is None and (not profile.virtual or medium != "nor"):
        _image(args, None, profile.images, medium, profile.name)  # fails early if missing
    lab = None if (not args.port and profile.virtual) else _lab(args, profile.name)
    if medium != "ssd" and lab is None and not (not args.port and profile.virtual):
        require_lab(profile, None, args.port)  # refuses before the board is touched
    t0 = time.monotonic()
    if not args.port and profile.virtual:
        progress.say("no --port: starting a throw-away virtual board (its flash is discarded)")
    with open_target(profile, args.port, transcript) as target:
        if lab is None and medium != "ssd":
            # A throw-away virtual board is a new unit: survey it first.
            progress.phase("survey of the throw-away virtual board")
            lab = Surveyor(target.strategy, "virtual", say=lambda _: None).survey(linux=True)
            progress.done()
        built = None
        if profile.virtual and args.image is None and medium == "nor":
            if isinstance(target, VirtualTarget):
                built = target.nor_image()
            else:  # a running `linerate vboard`: the uImage it boots (cached)
                built = build_board_images(profile.name).uimage
        image = _image(args, built, profile.images, medium, profile.name)
        progress.say(f"{medium} <- {image} ({image.stat().st_size} bytes); transcript {transcript}")
        extra = {} if (args.image is not None or profile.virtual) else deployed_env(image)
        if extra:
            progress.say(f"from the build's uboot-env.txt: {', '.join(extra)}")
        result = flash(
            target.strategy,
            image,
            medium,
            progress,
            slot=args.slot,
            transport=args.transport,
            tftp=tftp,
            extra_env=extra,
            lab=lab,
            port=args.port,
            rescue_kernel=args.rescue_kernel or _rescue_kernel(profile.images),
        )
        if isinstance(result, NorResult):
            progress.say(
                f"slot {result.slot} ({result.partition}) written and verified "
                f"(crc32 {result.crc:08x}); bootslot={result.slot} saved; the previous slot "
                f"{result.previous_slot} stays as the fallback"
            )
        if isinstance(result, UbiResult):
            progress.say(
                f"UBI partition {result.partition} written from Linux and read back "
                f"({len(result.volumes)} volume(s) match); the board runs the rescue shell "
                "from RAM: a power cycle (or reboot) boots it from flash"
            )
        if medium != "ssd" and (args.boot or (profile.virtual and not args.port)):
            progress.phase("boot to a shell")
            target.strategy.to_uboot()
            target.strategy.boot("boot")
            progress.done()
        elif medium != "ssd" and args.port:
            progress.say("the board waits at U-Boot's prompt: type boot there, or power-cycle")
    progress.say(f"done in {time.monotonic() - t0:.1f} s")
    for name, seconds in progress.timings:
        print(f"  {seconds:7.2f} s  {name}")
    return 0
