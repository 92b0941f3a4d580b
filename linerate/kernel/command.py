"""`linerate kernel`: the offline cross-build of the ndiv kernel.

Same inputs as the Yocto recipe (recipes/linux-ndiv/linux-ndiv.inc: source
version, patch series, fragments), Debian's cross toolchain and ccache:

  linerate kernel --target virt           zImage + slhttpd.ko for the virtual board
  linerate kernel --target boards         zImage, DTBs, zImage+DTB, uImage (mvebu)
  linerate kernel --target boards-check   board DTBs + the patched objects only (CI)

Outputs land in a directory of the cache named by a hash of the inputs; a second
run with the same inputs takes seconds. ``--json`` prints the manifest (paths of
zImage, slhttpd.ko, ...) on stdout; ``--print-paths`` prints it without
building (exit status 3 when that build does not exist yet).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import redirect_stdout
from typing import Any

from linerate.kernel.build import build_target, find_build

TARGET_NAMES = ("virt", "boards", "boards-check")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "kernel",
        help="cross-build the ndiv kernel (and the SLHTTPD module) offline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--target", choices=TARGET_NAMES, default="virt")
    p.add_argument(
        "--no-module",
        dest="with_module",
        action="store_false",
        help="virt: skip the SLHTTPD module (built by default)",
    )
    p.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--json", action="store_true", help="print the output manifest as JSON")
    p.add_argument(
        "--print-paths",
        action="store_true",
        help="print the manifest of an existing build, build nothing",
    )
    p.add_argument("--force", action="store_true", help="rebuild even if outputs exist")
    p.add_argument("-v", "--verbose", action="store_true", help="show make's output")
    p.set_defaults(func=run)


def _print_human(m: dict[str, Any]) -> None:
    state = "cached" if m.get("cached") else f"built in {m.get('build_seconds')} s"
    print(f"kernel {m['release']} target {m['target']} ({state})")
    for key in ("outdir", "config", "zImage", "module", "module_vermagic", "log"):
        if m.get(key):
            print(f"  {key:16} {m[key]}")
    for name, files in (m.get("boards") or {}).items():
        for key, path in files.items():
            print(f"  {name}: {key:10} {path}")
    for path in m.get("dtbs", []) + m.get("objects", []):
        print(f"  {'checked':16} {path}")


def run(args: argparse.Namespace) -> int:
    if args.print_paths:
        found = find_build(args.target)
        if found is None:
            print(
                f"linerate kernel: no {args.target} build for the current inputs; "
                f"run: linerate kernel --target {args.target}",
                file=sys.stderr,
            )
            return 3
        print(json.dumps(found.manifest, indent=2))
        return 0

    start = time.monotonic()
    # with --json, progress goes to stderr so stdout is only the manifest
    with redirect_stdout(sys.stderr if args.json else sys.stdout):
        result = build_target(
            args.target,
            with_module=args.with_module,
            jobs=args.jobs,
            verbose=args.verbose,
            force=args.force,
        )
    if args.json:
        print(json.dumps(result.manifest, indent=2))
    else:
        _print_human(result.manifest)
        print(f"  {'total':16} {time.monotonic() - start:.1f} s")
    return 0
