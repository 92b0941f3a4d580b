"""``linerate survey``: first contact with a board, before anything is written to it.

Stops the board in U-Boot and reads what it says about itself: its version banner,
whether hush works (probed), its commands (``help``: is there ``nand
write.trimffs``, ``bootz``, ``loady``?), ``flinfo`` (U-Boot's address of the NOR,
every sector and which are read-only), ``printenv`` and its size line (capacity,
redundant or not), which ethNaddr are set, ``bdinfo``; with ``--linux`` it also
boots the board's own Linux and reads its flash partitions (/sys/class/mtd) and
command line. Nothing is written, erased or saved. The result is the unit's lab
file, which ``linerate flash`` and the board tests read.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from linerate import ROOT
from linerate.board.profile import available, load_profile
from linerate.board.target import open_target
from linerate.survey.fwenv import device_lines
from linerate.survey.lab import Lab, default_lab_path, fw_env_path
from linerate.survey.survey import Surveyor


def register(sub: Any) -> None:
    p = sub.add_parser(
        "survey",
        help="first contact: read a board's bootloader and flash map into its lab file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--board", required=True, help=f"board profile ({', '.join(available())})")
    p.add_argument(
        "--port",
        help="serial console: /dev/ttyUSB0, a pty, rfc2217://HOST:PORT or socket://HOST:PORT",
    )
    p.add_argument("--unit", help="a name for this unit (default: its ethaddr)")
    p.add_argument(
        "--lab", type=Path, help="lab file to write (default: the board's in the lab dir)"
    )
    p.add_argument(
        "--linux",
        action="store_true",
        help="also boot the board's Linux and read its flash partitions (needed before a "
        "NOR flash: it tells which part of the flash is free for firmware)",
    )
    p.add_argument("--transcript", type=Path, help="console transcript (default under artifacts/)")
    p.set_defaults(func=run)


def summary(lab: Lab) -> list[str]:
    lines = [
        f"unit {lab.unit} of {lab.board}: {lab.banner}",
        f"  hush: {'yes' if lab.hush else 'no (plain parser: no if, no $?)'}",
    ]
    if lab.env_size is not None:
        kind = "redundant (two copies)" if lab.env_redundant else "one copy"
        where = ", ".join(f"{c.address:#x}" for c in lab.env_copies) or "not located"
        lines.append(f"  environment: {lab.env_size:#x} bytes, {kind}, at {where}")
    lines.append(f"  MACs: {', '.join(f'{k}={v}' for k, v in lab.macs.items()) or 'none set'}")
    for bank in lab.nor_banks:
        ro = [s for s in bank.sectors if s.read_only]
        span = f", read-only {ro[0].start:#x}..{ro[-1].end:#x}" if ro else ""
        lines.append(
            f"  NOR bank {bank.number}: {bank.base:#x}, {bank.size >> 20} MiB, "
            f"{len(bank.sectors)} sectors{span}"
        )
    if lab.nand_features:
        have = [k for k, v in lab.nand_features.items() if v]
        lines.append(f"  nand: {', '.join(have) or 'no write.trimffs'}")
    if lab.linux_mtd is not None:
        for p in lab.linux_mtd:
            kind = "firmware area" if p.firmware_area else "protected"
            lines.append(f"  Linux {p.device} {p.name}: {p.offset:#x}+{p.size:#x} ({kind})")
    return lines


def run(args: argparse.Namespace) -> int:
    profile = load_profile(args.board)
    transcript = args.transcript or ROOT / "artifacts" / "survey" / f"{profile.name}.log"
    with open_target(profile, args.port, transcript) as target:
        lab = Surveyor(target.strategy, args.port or "virtual").survey(args.unit, args.linux)
    path = lab.save(args.lab or default_lab_path(profile.name))
    for line in summary(lab):
        print(line)
    print(f"lab file: {path}")
    if lab.fw_env_config is not None:
        print(f"fw_env.config: {fw_env_path(path)}")
        image = ROOT / "recipes" / "linerate-board" / "files" / profile.kas_machine
        default = image / "fw_env.config"
        if default.is_file():
            ours = [line[:4] for line in device_lines(default.read_text())]
            if ours == [line[:4] for line in device_lines(lab.fw_env_config)]:
                print(f"  the same as the image's ({default.relative_to(ROOT)})")
            else:
                print(
                    f"  differs from the image's ({default.relative_to(ROOT)}): build with "
                    f'LINERATE_FW_ENV_CONFIG = "{fw_env_path(path)}" in local.conf '
                    "(docs/yocto.md), or fw_printenv reports a bad CRC"
                )
    return 0
