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
import fcntl
import json
import os
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from linerate.errors import LinerateError
from linerate.kernel.build import build, finished_build, outdir, read_manifest, targets
from linerate.kernel.inputs import INC_PATH, parse_inc
from linerate.kernel.source import check_prerequisites, kernel_cache, prepare_source

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


class _CacheLock:
    """One `linerate kernel` at a time per cache (they share the source tree)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: Any = None

    def __enter__(self) -> _CacheLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = self.path.open("w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"kernel: waiting for another linerate kernel run ({self.path})", flush=True)
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def run(args: argparse.Namespace) -> int:
    inputs = parse_inc(INC_PATH)
    target = targets(inputs)[args.target]
    if args.print_paths:
        manifest = read_manifest(outdir(inputs, target), target)
        if manifest is None:
            print(
                f"linerate kernel: no {target.name} build for the current inputs; "
                f"run: linerate kernel --target {target.name}",
                file=sys.stderr,
            )
            return 3
        manifest["cached"] = True
        print(json.dumps(manifest, indent=2))
        return 0

    start = time.monotonic()
    # with --json, progress goes to stderr so stdout is only the manifest
    with redirect_stdout(sys.stderr if args.json else sys.stdout):
        # a finished build with the same inputs needs neither tools nor the lock
        manifest = None if args.force else finished_build(inputs, target, args.with_module)
        if manifest is None:
            check_prerequisites(inputs, need_mkimage=target.boards)
            with _CacheLock(kernel_cache() / ".lock"):
                log = kernel_cache() / "source.log"
                src = prepare_source(inputs, log)
                manifest = build(
                    inputs,
                    src,
                    target,
                    jobs=max(1, args.jobs),
                    with_module=args.with_module,
                    verbose=args.verbose,
                    force=args.force,
                )
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        _print_human(manifest)
        print(f"  {'total':16} {time.monotonic() - start:.1f} s")
    if not manifest.get("release"):
        raise LinerateError("build finished without a kernel release string")
    return 0
