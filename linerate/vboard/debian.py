"""Debian armhf packages the virtual board borrows (downloaded, never installed).

busybox-static gives the initramfs its user space; a Debian armmp kernel is the
stand-in until the project's own kernel (``linerate kernel --target virt``) is
built. ``apt-get download`` fetches the package into the cache and
``dpkg-deb -x`` extracts it there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from linerate.errors import LinerateError
from linerate.vboard.cache import vboard_dir

ARCH = "armhf"


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as exc:
        raise LinerateError(f"{what}: {cmd[0]} not found: run on Debian with apt") from exc
    except subprocess.TimeoutExpired as exc:
        raise LinerateError(f"{what}: {' '.join(cmd)} took over 10 minutes") from exc
    if proc.returncode != 0:
        raise LinerateError(f"{what}: {' '.join(cmd)} failed: {proc.stderr.strip()[-800:]}")
    return proc.stdout


def _check_arch() -> None:
    archs = _run(["dpkg", "--print-foreign-architectures"], "checking dpkg architectures")
    if ARCH not in archs.split():
        raise LinerateError(
            f"dpkg does not know the {ARCH} architecture, so its packages cannot be "
            "downloaded: run scripts/apt-armhf.sh as root (adds it and runs apt-get update)"
        )


def candidate_version(package: str) -> str:
    out = _run(["apt-cache", "policy", f"{package}:{ARCH}"], f"looking up {package}")
    m = re.search(r"Candidate:\s*(\S+)", out)
    if not m or m.group(1) == "(none)":
        raise LinerateError(
            f"no {package}:{ARCH} in the apt sources: run scripts/apt-armhf.sh (apt-get update)"
        )
    return m.group(1)


def _extracted(pattern: str) -> Path | None:
    """The newest tree already extracted for packages matching ``pattern`` (a glob)."""
    trees = [p.parent for p in vboard_dir("debs").glob(f"{pattern}_*/.done")]
    return max(trees, key=lambda p: p.stat().st_mtime) if trees else None


def _prune(tree: Path, keep: tuple[str, ...]) -> None:
    """Delete every file under ``tree`` whose relative path matches none of ``keep``."""
    for path in sorted(tree.rglob("*"), reverse=True):
        rel = path.relative_to(tree)
        if path.is_file() or path.is_symlink():
            if not any(rel.match(pattern) for pattern in keep):
                path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def extract(package: str, refresh: bool = False, keep: tuple[str, ...] = ()) -> Path:
    """Download ``package:armhf`` (its candidate version) and extract it; return the tree.

    A tree extracted before is used as it is (no apt query: fast and reproducible)
    unless ``refresh`` asks for apt's current candidate. ``keep`` (globs on paths
    relative to the tree, matched from the right like Path.match) drops every other
    file after extraction."""
    if not refresh:
        found = _extracted(package)
        if found is not None:
            return found
    _check_arch()
    version = candidate_version(package)
    safe = re.sub(r"[^A-Za-z0-9.+~-]", "_", f"{package}_{version}")
    tree = vboard_dir("debs") / safe
    if (tree / ".done").exists():
        return tree
    work = vboard_dir("debs") / f".{safe}.download"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    work.chmod(0o777)  # apt's _apt sandbox user writes here
    try:
        _run(
            ["apt-get", "download", "-q", f"{package}:{ARCH}={version}"],
            "apt-get download",
            cwd=work,
        )
        debs = list(work.glob("*.deb"))
        if len(debs) != 1:
            raise LinerateError(f"apt-get download {package} left {len(debs)} .deb files")
        shutil.rmtree(tree, ignore_errors=True)
        _run(["dpkg-deb", "-x", str(debs[0]), str(tree)], f"extracting {debs[0].name}")
        if keep:
            _prune(tree, keep)
        (tree / ".done").write_text(version + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tree


def busybox() -> Path:
    """The static armhf busybox binary."""
    path = extract("busybox-static") / "bin" / "busybox"
    if not path.is_file():
        raise LinerateError(f"busybox-static:{ARCH} has no bin/busybox (looked at {path})")
    return path


#: fw_printenv / fw_setenv, as the appliance image has them (libubootenv), and what
#: they load: package -> files (paths in the guest, as the package installs them).
UBOOTENV_FILES: dict[str, tuple[str, ...]] = {
    "libubootenv-tool": ("usr/bin/fw_printenv", "usr/bin/fw_setenv"),
    "libubootenv0.1": ("usr/lib/arm-linux-gnueabihf/libubootenv.so.0",),
    "zlib1g": ("lib/arm-linux-gnueabihf/libz.so.1",),
    "libc6": (
        "lib/arm-linux-gnueabihf/ld-linux-armhf.so.3",
        "lib/arm-linux-gnueabihf/libc.so.6",
    ),
}


def ubootenv_tools() -> dict[str, Path]:
    """libubootenv's tools and their libraries: guest path -> extracted file.

    The dynamic loader is also wanted at /lib/ld-linux-armhf.so.3 (the binaries'
    PT_INTERP); the glibc loader searches /lib/arm-linux-gnueabihf and
    /usr/lib/arm-linux-gnueabihf without an ld.so.cache."""
    files: dict[str, Path] = {}
    for package, paths in UBOOTENV_FILES.items():
        tree = extract(package)
        for rel in paths:
            path = (tree / rel).resolve()
            if not path.is_file():
                raise LinerateError(f"{package}:{ARCH} has no {rel} (looked in {tree})")
            files[rel] = path
    files["lib/ld-linux-armhf.so.3"] = files["lib/arm-linux-gnueabihf/ld-linux-armhf.so.3"]
    return files


def newest_armmp_kernel_package(refresh: bool = False) -> str:
    """The newest ``linux-image-<abi>-armmp`` (the one extracted before, unless refresh)."""
    if not refresh:
        found = _extracted("linux-image-*-armmp")
        if found is not None:
            return found.name.split("_", 1)[0]
    out = _run(
        ["apt-cache", "search", "--names-only", r"^linux-image-[0-9.]+-[0-9]+-armmp$"],
        "looking for a Debian armmp kernel",
    )
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    if not names:
        raise LinerateError("no linux-image-*-armmp package: run scripts/apt-armhf.sh")

    def abi(name: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", name))

    return max(names, key=abi)
