"""The kernel the virtual board boots: the project's own, else a Debian stand-in.

The project's kernel (the pinned LTS with the ndiv series, built offline by
``linerate kernel --target virt``) is what the board tests are about. Until it
exists a Debian armmp kernel lets the U-Boot, flash and console flow run; tests
that need ndiv, SLHTTPD or the MAC patch skip with that reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from linerate.errors import LinerateError
from linerate.kernel.build import build_target, find_build
from linerate.vboard import debian


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
    found = find_build("virt")
    if found is None and build:
        say("kernel: linerate kernel --target virt (minutes when cold, seconds cached)")
        try:
            found = build_target("virt")
        except LinerateError as exc:
            raise LinerateError(
                f"the virt kernel build failed: {exc}\n"
                "fix the kernel build, or boot the Debian stand-in with --debian-kernel"
            ) from exc
    if found is None or found.zimage is None or not found.zimage.is_file():
        return None
    slhttpd = found.module if found.module is not None and found.module.is_file() else None
    return _from_zimage(
        found.zimage, slhttpd, f"project kernel {found.release or '?'} ({found.outdir})"
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
