"""The kernel the virtual board boots: the project's own, else a Debian stand-in.

The project's kernel (the pinned LTS with the ndiv series, built offline by
``linerate kernel --target virt``) is what the board tests are about. Until it
exists a Debian armmp kernel lets the U-Boot, flash and console flow run; tests
that need ndiv, SLHTTPD or the MAC patch skip with that reason.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from linerate.errors import LinerateError
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
    tree = debian.extract(package)
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


def project_kernel() -> KernelImage | None:
    """The project's virt kernel if ``linerate.kernel`` has built one, else None."""
    override = os.environ.get("LINERATE_VBOARD_KERNEL")
    if override:
        path = Path(override)
        if not path.is_file():
            raise LinerateError(f"LINERATE_VBOARD_KERNEL={override}: no such file")
        return _from_zimage(path, "ndiv", f"{path} (LINERATE_VBOARD_KERNEL)")
    try:
        module = importlib.import_module("linerate.kernel")
    except ImportError:
        return None
    finder = getattr(module, "vboard_kernel", None)
    if finder is None:
        return None
    found = finder()
    if found is None:
        return None
    return _from_zimage(Path(found), "ndiv", f"project kernel {found}")


def _from_zimage(zimage: Path, kind: str, description: str) -> KernelImage:
    extra: list[tuple[str, Path]] = []
    module = os.environ.get("LINERATE_VBOARD_SLHTTPD")
    if module:
        extra.append(("slhttpd", Path(module)))
    return KernelImage(zimage=zimage, kind=kind, description=description, extra=tuple(extra))


def find_kernel(prefer_debian: bool = False) -> KernelImage:
    if not prefer_debian:
        found = project_kernel()
        if found is not None:
            return found
    return debian_kernel()
