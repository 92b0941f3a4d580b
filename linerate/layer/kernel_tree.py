"""The pinned kernel source as the layer checks see it: its file list.

``tar -tJf`` of the Debian source tarball takes about 10 s, so the list is
cached under the long-lived cache (``$LINERATE_CACHE`` or build/cache), keyed
by the tarball's path, size and modification time.
"""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path

from linerate.errors import LinerateError
from linerate.kernel.inputs import parse_inc
from linerate.kernel.source import cache_root, tarball_path

LIST_TIMEOUT = 300


def pinned_tarball() -> Path:
    return tarball_path(parse_inc())


def tarball_listing(tarball: Path) -> list[str]:
    """Member names of the tarball without the top directory, cached."""
    if not tarball.is_file():
        raise LinerateError(f"{tarball} not found (install the pinned linux-source package)")
    st = tarball.stat()
    key = hashlib.sha256(f"{tarball}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cache = cache_root() / "layer" / f"kernel-files-{key}.txt"
    if cache.is_file():
        return cache.read_text().splitlines()
    try:
        out = subprocess.run(
            ["tar", "-tJf", str(tarball)],
            capture_output=True,
            text=True,
            timeout=LIST_TIMEOUT,
            check=True,
        ).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise LinerateError(f"cannot list {tarball}: {exc}") from exc
    names = [n.split("/", 1)[1] for n in out.splitlines() if "/" in n and n.split("/", 1)[1]]
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text("\n".join(names) + "\n")
    tmp.replace(cache)
    return names


def read_members(tarball: Path, names: list[str]) -> dict[str, str]:
    """Files of the tarball (paths without the top directory) as text, cached
    like the listing (one pass through the archive for all of them)."""
    st = tarball.stat()
    key = hashlib.sha256(f"{tarball}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cache = cache_root() / "layer" / f"kernel-members-{key}"
    found = {n: (cache / n).read_text() for n in names if (cache / n).is_file()}
    wanted = set(names) - set(found)
    if wanted:
        with tarfile.open(tarball, "r:xz") as tar:
            for member in tar:
                name = member.name.split("/", 1)[-1]
                if name in wanted and member.isfile():
                    f = tar.extractfile(member)
                    if f is not None:
                        found[name] = f.read().decode()
                        (cache / name).parent.mkdir(parents=True, exist_ok=True)
                        (cache / name).write_text(found[name])
                        wanted.discard(name)
                if not wanted:
                    break
    if wanted:
        raise LinerateError(f"not in {tarball}: {', '.join(sorted(wanted))}")
    return found


def dts_for_dtb(dtb: str) -> str:
    """KERNEL_DEVICETREE entry (marvell/x.dtb) -> its source in the tree."""
    if not dtb.endswith(".dtb"):
        raise LinerateError(f"KERNEL_DEVICETREE entry {dtb!r} does not end in .dtb")
    return f"arch/arm/boot/dts/{dtb[: -len('.dtb')]}.dts"
