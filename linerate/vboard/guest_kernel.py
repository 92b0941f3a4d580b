"""The kernel the virtual board boots: the project's own, else a Debian stand-in.

The project's kernel (the pinned LTS with the ndiv series, built offline by
``linerate kernel --target virt``) is what the board tests are about. Until it
exists a Debian armmp kernel lets the U-Boot, flash and console flow run; tests
that need ndiv, SLHTTPD or the MAC patch skip with that reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.vboard import debian
from linerate.vboard.cache import cache_root


@dataclass(frozen=True)
class KernelImage:
    """A zImage and the modules the initramfs must carry for it."""

    zimage: Path
    #: (name, path) of modules to load at boot, in order (``name`` without ``.ko``).
    modules: tuple[tuple[str, Path], ...] = ()
    #: Where it comes from: "ndiv" (the project's kernel) or "debian" (stand-in).
    kind: str = "debian"
    description: str = ""
    #: Extra modules carried but not loaded by /etc/modules (slhttpd.ko: rcS loads it).
    extra: tuple[tuple[str, Path], ...] = field(default=())

    @property
    def has_ndiv(self) -> bool:
        return self.kind == "ndiv"


def debian_kernel() -> KernelImage:
    package = debian.newest_armmp_kernel_package()
    tree = debian.extract(package, keep=("boot/vmlinuz-*", "e1000.ko"))
    zimages = sorted((tree / "boot").glob("vmlinuz-*"))
    if not zimages:
        raise LinerateError(f"{package} holds no boot/vmlinuz-*")
    release = zimages[0].name.removeprefix("vmlinuz-")
    e1000 = next((tree / "lib" / "modules" / release).rglob("e1000.ko*"), None)
    if e1000 is None or e1000.suffix != ".ko":
        raise LinerateError(f"{package} has no uncompressed e1000.ko (found {e1000})")
    return KernelImage(
        zimage=zimages[0],
        modules=(("e1000", e1000),),
        kind="debian",
        description=f"Debian {package} (stand-in: no ndiv, no SLHTTPD, no MAC patch)",
    )


def kernel_command_available() -> bool:
    """True when ``linerate kernel`` is a registered sub-command."""
    import argparse

    from linerate.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return "kernel" in action.choices
    return False


def manifest_path() -> Path:
    """The manifest ``linerate kernel --target virt`` leaves for its newest build."""
    return cache_root() / "kernel" / "virt" / "linerate-virt.json"


def kernel_manifest(build: bool, progress: Callable[[str], None]) -> dict[str, Any] | None:
    """The virt kernel's manifest from ``linerate kernel --target virt``.

    ``--print-paths`` first: the build for the current inputs, if it exists (no lock,
    no wait behind another target's build). Else, with ``build``, ``--json`` builds it
    (minutes cold, seconds with ccache). None when there is none and no build asked."""
    found = _kernel_command("--print-paths", progress)
    if found is not None or not build:
        return found
    return _kernel_command("--json", progress)


def _kernel_command(mode: str, progress: Callable[[str], None]) -> dict[str, Any] | None:
    build = mode == "--json"
    cmd = [sys.executable, "-m", "linerate", "kernel", "--target", "virt", mode]
    if build:
        progress("kernel: linerate kernel --target virt (minutes when cold, seconds cached)")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    errors: list[str] = []

    def relay() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            errors.append(line)
            if build:
                progress(f"kernel: {line.rstrip()}")

    chunks: list[str] = []

    def collect() -> None:
        assert proc.stdout is not None
        chunks.append(proc.stdout.read())

    readers = [threading.Thread(target=f, daemon=True) for f in (relay, collect)]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=7200)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise LinerateError("linerate kernel --target virt took over 2 hours") from None
    for reader in readers:
        reader.join(5)
    out = "".join(chunks)
    if not build and proc.returncode == 3:
        return None
    if proc.returncode != 0:
        raise LinerateError(
            f"linerate kernel --target virt {mode} failed (exit {proc.returncode}): "
            f"{''.join(errors).strip()[-1500:]}\n"
            "fix the kernel build, or boot the Debian stand-in with --debian-kernel"
        )
    try:
        manifest: dict[str, Any] = json.loads(out)
    except ValueError as exc:
        raise LinerateError(f"linerate kernel {mode} printed no JSON: {out[:300]!r}") from exc
    return manifest


def project_kernel(
    build: bool = False, progress: Callable[[str], None] | None = None
) -> KernelImage | None:
    """The project's virt kernel (and slhttpd.ko): ``LINERATE_VBOARD_KERNEL`` (a zImage,
    with ``LINERATE_VBOARD_SLHTTPD``), else the kernel build's manifest."""
    override = os.environ.get("LINERATE_VBOARD_KERNEL")
    if override:
        path = Path(override)
        if not path.is_file():
            raise LinerateError(f"LINERATE_VBOARD_KERNEL={override}: no such file")
        module = os.environ.get("LINERATE_VBOARD_SLHTTPD")
        return _from_zimage(
            path, Path(module) if module else None, f"{path} (from the environment)"
        )
    say = progress or _quiet
    manifest: dict[str, Any] | None
    if kernel_command_available():
        manifest = kernel_manifest(build, say)
    else:
        if build:
            say("kernel: `linerate kernel` is not available: using what is built")
        try:
            manifest = json.loads(manifest_path().read_text())
        except (OSError, ValueError):
            manifest = None
    if manifest is None:
        return None
    zimage = Path(manifest.get("zImage", ""))
    if not zimage.is_file():
        return None
    module = manifest.get("module")
    return _from_zimage(
        zimage,
        Path(module) if module and Path(module).is_file() else None,
        f"project kernel {manifest.get('release', '?')} ({manifest.get('outdir', '')})",
    )


def _from_zimage(zimage: Path, slhttpd: Path | None, description: str) -> KernelImage:
    extra = (("slhttpd", slhttpd),) if slhttpd is not None else ()
    if slhttpd is None:
        description += " (no slhttpd.ko)"
    return KernelImage(zimage=zimage, kind="ndiv", description=description, extra=extra)


def _quiet(_: str) -> None:
    pass


def find_kernel(
    prefer_debian: bool = False,
    build: bool = False,
    progress: Callable[[str], None] = _quiet,
) -> KernelImage:
    """The kernel to boot. ``LINERATE_VBOARD_KERNEL=debian`` (or ``prefer_debian``) picks
    the Debian stand-in; else the project's kernel, built first when ``build`` is set and
    ``linerate kernel`` exists; else the stand-in."""
    if prefer_debian or os.environ.get("LINERATE_VBOARD_KERNEL") == "debian":
        return debian_kernel()
    found = project_kernel(build=build, progress=progress)
    if found is not None:
        return found
    progress("kernel: no project kernel built: booting the Debian stand-in")
    return debian_kernel()
