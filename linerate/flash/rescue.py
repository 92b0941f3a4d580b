"""The rescue initramfs: a Linux shell in RAM that writes flash U-Boot cannot write well.

A vendor U-Boot without ``nand write.trimffs`` (the Mirabox's 2009.08) would program
the empty pages of a UBI image and spoil UBIFS free space; Linux's ``ubiformat``
writes a UBI image as UBI expects (empty pages left erased, erase counters kept).
The rescue initramfs is what that Linux runs: busybox and mtd-utils' ``ubiformat``,
``ubiattach``, ``ubidetach`` (Debian armhf, with the C library they load), and an
``/init`` that mounts the kernel file systems and starts a shell on the console. It
needs no kernel module (MTD, NAND and UBI are built into the appliance's kernels),
so one rescue image serves every board and kernel.

Wrapped as a legacy uImage ramdisk (``mkimage -T ramdisk``): what ``bootm KERNEL
INITRD`` takes on every U-Boot era. Loaded into RAM with the kernel, never written
to flash.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from linerate.vboard import cpio, debian
from linerate.vboard.cache import InputKey, cached_file
from linerate.vboard.norimage import run_tool

FORMAT = "rescue-v1"
#: The rescue shell's prompt (the flasher drives it with a LinuxShell on this prompt).
PROMPT = "linerate-rescue# "
#: mtd-utils files the rescue shell runs (glibc comes from debian.ubootenv_tools()).
MTD_TOOLS = ("usr/sbin/ubiformat", "usr/sbin/ubiattach", "usr/sbin/ubidetach")

INIT = f"""#!/bin/busybox sh
# linerate rescue initramfs: the kernel file systems, busybox's applets, a shell.
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s
hostname linerate-rescue
echo 4 >/proc/sys/kernel/printk
echo "linerate-rescue: ready (flash written from here; nothing else runs)"
export PS1='{PROMPT}'
exec setsid cttyhack /bin/sh
"""


def _files() -> dict[str, Path]:
    files = {rel: path for rel, path in debian.ubootenv_tools().items() if rel.startswith("lib")}
    tree = debian.extract("mtd-utils")
    for rel in MTD_TOOLS:
        path = tree / rel
        if not path.is_file():
            raise FileNotFoundError(f"mtd-utils:armhf has no {rel} (looked in {tree})")
        files[rel] = path
    return files


def _entries(busybox: Path, files: dict[str, Path]) -> list[cpio.Entry]:
    entries: dict[str, cpio.Entry] = {}
    dirs = ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "root", "etc")
    for d in (*dirs, "lib", "lib/modules"):
        entries[d] = cpio.directory(d)
    entries["tmp"] = cpio.directory("tmp", 0o1777)
    entries["dev/console"] = cpio.chardev("dev/console", 5, 1)
    entries["dev/null"] = cpio.chardev("dev/null", 1, 3, 0o666)
    entries["bin/busybox"] = cpio.regular("bin/busybox", busybox.read_bytes(), 0o755)
    entries["bin/sh"] = cpio.symlink("bin/sh", "busybox")
    entries["init"] = cpio.regular("init", INIT.encode(), 0o755)
    for rel, path in sorted(files.items()):
        for parent in reversed(Path(rel).parents):
            if str(parent) != ".":
                entries.setdefault(str(parent), cpio.directory(str(parent)))
        entries[rel] = cpio.regular(rel, path.read_bytes(), 0o755)
    return list(entries.values())


def rescue_initrd(modules: tuple[Path, ...] = ()) -> tuple[Path, bool]:
    """``(path of the rescue uImage ramdisk, was_cached)``; ``modules`` (.ko files of the
    board's kernel build, for boards that need one: nandsim on the virtual boards) go to
    /lib/modules/ for the profile's rescue ``setup`` commands to load."""
    busybox = debian.busybox()
    files = _files()
    for ko in modules:
        files[f"lib/modules/{ko.name}"] = ko
    key = InputKey(FORMAT).add_file("busybox", busybox).add("init", INIT)
    for rel, path in sorted(files.items()):
        key.add_file(rel, path)

    def build(out: Path) -> None:
        raw = io.BytesIO()
        cpio.write(raw, _entries(busybox, files))
        gz = out.with_suffix(".cpio.gz")
        with gz.open("wb") as f, gzip.GzipFile(filename="", fileobj=f, mode="wb", mtime=0) as z:
            z.write(raw.getvalue())
        try:
            run_tool(
                [
                    *("mkimage", "-A", "arm", "-O", "linux", "-T", "ramdisk", "-C", "none"),
                    *("-n", "linerate rescue", "-d", str(gz), str(out)),
                ],
                "mkimage (rescue ramdisk)",
            )
        finally:
            gz.unlink(missing_ok=True)

    return cached_file("rescue", key.hexdigest(), "rescue.uimg", build)


def kernel_uimage(zimage: Path, load: int) -> tuple[Path, bool]:
    """A plain kernel uImage of ``zimage`` (for boards whose build has none: virtual)."""
    key = InputKey("rescue-kernel-v1").add_file("zimage", zimage).add("load", hex(load))

    def build(out: Path) -> None:
        run_tool(
            [
                *("mkimage", "-A", "arm", "-O", "linux", "-T", "kernel", "-C", "none"),
                *("-a", hex(load), "-e", hex(load), "-n", "linerate kernel"),
                *("-d", str(zimage), str(out)),
            ],
            "mkimage (kernel)",
        )

    return cached_file("rescue-kernel", key.hexdigest(), "kernel.uimg", build)
