"""The virtual board's initramfs: busybox, fw_printenv/fw_setenv, board/virt/rootfs, modules,
the small C tools of board/virt/tools (static armhf, in /usr/bin) and SLHTTPD's XDP frontend
(:mod:`linerate.vboard.xdpfront`).

Built as a reproducible cpio "newc" archive, gzip-compressed, cached by a key
over every input (busybox binary, rootfs files, modules, format version).
"""

from __future__ import annotations

import gzip
import io
import shutil
import stat
import subprocess
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.vboard import cpio, debian, xdpfront
from linerate.vboard.cache import InputKey, cached_file
from linerate.vboard.guest_kernel import KernelImage

ROOTFS = ROOT / "board" / "virt" / "rootfs"
TOOLS = ROOT / "board" / "virt" / "tools"
CROSS_CC = "arm-linux-gnueabihf-gcc"
FORMAT = "initramfs-v2"
DIRS = (
    "bin",
    "sbin",
    "usr",
    "usr/bin",
    "usr/sbin",
    "dev",
    "proc",
    "sys",
    "tmp",
    "run",
    "root",
    "etc",
    "lib",
    "lib/modules",
    "var",
)


def _rootfs_files(rootfs: Path) -> list[Path]:
    return sorted(p for p in rootfs.rglob("*") if p.is_file())


def _entries(
    busybox: Path, tools: dict[str, Path], rootfs: Path, kernel: KernelImage
) -> list[cpio.Entry]:
    entries: dict[str, cpio.Entry] = {d: cpio.directory(d) for d in DIRS}
    entries["tmp"] = cpio.directory("tmp", 0o1777)
    entries["dev/console"] = cpio.chardev("dev/console", 5, 1)
    entries["dev/null"] = cpio.chardev("dev/null", 1, 3, 0o666)
    entries["bin/busybox"] = cpio.regular("bin/busybox", busybox.read_bytes(), 0o755)
    entries["bin/sh"] = cpio.symlink("bin/sh", "busybox")
    for rel, path in sorted(tools.items()):
        for parent in reversed(Path(rel).parents):
            if str(parent) != ".":
                entries.setdefault(str(parent), cpio.directory(str(parent)))
        entries[rel] = cpio.regular(rel, path.read_bytes(), 0o755)
    for path in _rootfs_files(rootfs):
        rel = path.relative_to(rootfs).as_posix()
        for parent in Path(rel).parents:
            if str(parent) != ".":
                entries.setdefault(str(parent), cpio.directory(str(parent)))
        perm = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
        entries[rel] = cpio.regular(rel, path.read_bytes(), perm)
    order = []
    for name, module in (*kernel.modules, *kernel.extra):
        entries[f"lib/modules/{name}.ko"] = cpio.regular(
            f"lib/modules/{name}.ko", module.read_bytes()
        )
        if (name, module) in kernel.modules:
            order.append(name)
    if order:
        entries["etc/modules"] = cpio.regular("etc/modules", ("\n".join(order) + "\n").encode())
    return list(entries.values())


def guest_tools(sources: Path = TOOLS) -> dict[str, Path]:
    """board/virt/tools/NAME.c, each built static for armhf: guest path usr/bin/NAME ->
    binary (cached by source and compiler). Empty without the cross compiler (the
    Debian stand-in kernel's flows need none of them)."""
    cc = shutil.which(CROSS_CC)
    if cc is None:
        return {}
    version = subprocess.run(
        [cc, "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[:1]
    tools: dict[str, Path] = {}
    for src in sorted(sources.glob("*.c")):
        key = InputKey("guest-tool").add_file("source", src).add("cc", "".join(version))

        def build(out: Path, src: Path = src) -> None:
            res = subprocess.run(
                [cc, "-static", "-Os", "-s", "-Wall", "-Wextra", "-o", str(out), str(src)],
                capture_output=True,
                text=True,
                check=False,
            )
            if res.returncode != 0:
                raise LinerateError(f"cannot build {src.name}:\n{res.stderr.strip()}")

        tools[f"usr/bin/{src.stem}"], _ = cached_file(
            "guest-tool", key.hexdigest(), src.stem, build
        )
    return tools


def build_initramfs(kernel: KernelImage, rootfs: Path = ROOTFS) -> tuple[Path, bool]:
    """Return ``(path of initramfs.cpio.gz, was_cached)``."""
    busybox = debian.busybox()
    tools = debian.ubootenv_tools() | guest_tools() | xdpfront.guest_files()
    key = InputKey(FORMAT).add_file("busybox", busybox)
    for rel, path in sorted(tools.items()):
        key.add_file(f"tool/{rel}", path)
    key.add_files((f"rootfs/{p.relative_to(rootfs)}", p) for p in _rootfs_files(rootfs))
    for name, module in (*kernel.modules, *kernel.extra):
        key.add_file(f"module/{name}", module)
    key.add("load-order", ",".join(n for n, _ in kernel.modules))

    def build(out: Path) -> None:
        raw = io.BytesIO()
        cpio.write(raw, _entries(busybox, tools, rootfs, kernel))
        with out.open("wb") as f, gzip.GzipFile(filename="", fileobj=f, mode="wb", mtime=0) as gz:
            gz.write(raw.getvalue())

    return cached_file("initramfs", key.hexdigest(), "initramfs.cpio.gz", build)
