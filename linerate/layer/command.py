"""`linerate build --board NAME`: the board's firmware images, built with kas.

Runs ``kas build kas.yml:board/NAME/kas.yml`` (or kas-container) from the
repository root, so the third-party layers land in layers/ and the images in
build/tmp/deploy/images/<machine>/, where the board profile (images:) and
`linerate flash` look for them. Before starting it checks what a multi-hour
build would otherwise trip over late: the host can reach the source servers
(or a KAS_PREMIRRORS / a complete DL_DIR stands in), bitbake is not run as
root, the host tools and the locale exist, and there is disk space. Then it
pins the kernel: while linux-ndiv's SRCREV is still the placeholder, it resolves
the stable tag with git ls-remote and writes the commit into the recipe (commit
that change); once pinned, it checks that the tag still names that commit.
``linerate build --pin-kernel`` only (re-)pins the kernel.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError, UsageError
from linerate.layer import kernel_pin
from linerate.layer.kas import (
    host_problems,
    offline_sources_present,
    plan,
    source_hosts,
    unreachable,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "build",
        help="build a board's firmware images with kas (Yocto)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--board", help="board profile name (board/NAME/board.yml)")
    p.add_argument(
        "--pin-kernel",
        action="store_true",
        help="only resolve the kernel's stable tag (git ls-remote, needs the network) and "
        "write its commit into linux-ndiv's SRCREV; no build",
    )
    p.add_argument(
        "--container",
        action="store_true",
        help="build inside kas-container (docker/podman) instead of on the host",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check the host and print the kas command only"
    )
    p.add_argument(
        "--skip-checks",
        action="store_true",
        help="do not check the host or the network first (kas/bitbake will still fail late)",
    )
    p.set_defaults(func=run)


def pin_kernel() -> int:
    pin, changed = kernel_pin.pin()
    rel = pin.recipe.relative_to(ROOT)
    if changed:
        print(f"linerate build: {rel}: SRCREV = {pin.srcrev} ({pin.tag}); commit this change")
    else:
        print(f"linerate build: {rel}: SRCREV {pin.srcrev} is {pin.tag} already")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.pin_kernel:
        return pin_kernel()
    if not args.board:
        raise UsageError("--board NAME is required (or --pin-kernel alone)")
    build_plan = plan(args.board, container=args.container)
    print(f"linerate build: board {build_plan.board}, machine {build_plan.machine}")
    print(f"  command:  (cd {ROOT} && {' '.join(build_plan.command)})")
    print(f"  outputs:  {build_plan.deploy_dir}/")
    if not args.skip_checks:
        problems = host_problems(container=args.container)
        if not offline_sources_present():
            failed = unreachable(source_hosts())
            if failed:
                problems.append(
                    "this host cannot reach the sources the build fetches:\n      "
                    + "\n      ".join(failed)
                    + "\n    build on a host with internet access, or give kas mirrors "
                    "(KAS_PREMIRRORS) and a filled build/downloads (see docs/yocto.md)"
                )
        if problems:
            raise LinerateError("cannot build here:\n  - " + "\n  - ".join(problems))
    if args.dry_run:
        if not kernel_pin.read_pin().pinned:
            print("  kernel:   not pinned yet: the build resolves the tag first")
        return 0
    if not args.skip_checks or not kernel_pin.read_pin().pinned:
        pinned, changed = kernel_pin.ensure_pinned()
        if changed:
            print(
                f"  kernel:   pinned {pinned.tag} = {pinned.srcrev} in "
                f"{pinned.recipe.relative_to(ROOT)}; commit this change"
            )
    if not Path(build_plan.command[0]).exists():
        raise LinerateError(
            f"{build_plan.command[0]} not found: run make deps (kas is a dev dependency)"
        )
    env = dict(os.environ, KAS_WORK_DIR=str(ROOT))
    result = subprocess.run(build_plan.command, cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        raise LinerateError(
            f"kas build failed (exit {result.returncode}); the failing task's log is "
            "named above (build/tmp/work/.../temp/log.do_*)"
        )
    for medium, rel in sorted(build_plan.images.items()):
        path = ROOT / rel
        state = f"{path.stat().st_size} bytes" if path.exists() else "MISSING"
        print(f"  {medium:12} {rel}: {state}")
    return 0
