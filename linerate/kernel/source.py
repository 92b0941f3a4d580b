"""The pinned kernel source: prerequisites, extraction and the patch series.

Nothing is installed from here: a missing package is reported with the exact
``apt-get install`` line that fixes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from linerate.cache import cache_root
from linerate.errors import LinerateError
from linerate.kernel.inputs import KernelInputs

CROSS_COMPILE = "arm-linux-gnueabihf-"

#: Program -> Debian package providing it.
BUILD_TOOLS = {
    f"{CROSS_COMPILE}gcc": "gcc-arm-linux-gnueabihf",
    "ccache": "ccache",
    "make": "make",
    "gcc": "gcc",
    "bc": "bc",
    "bison": "bison",
    "flex": "flex",
    "patch": "patch",
    "xz": "xz-utils",
    "tar": "tar",
    "perl": "perl",
}
#: Header -> Debian package (host tools the kernel build compiles).
BUILD_HEADERS = {
    "/usr/include/openssl/ssl.h": "libssl-dev",
    "/usr/include/libelf.h": "libelf-dev",
}
MKIMAGE = {"mkimage": "u-boot-tools"}


def kernel_cache() -> Path:
    return cache_root() / "kernel"


def tarball_path(inputs: KernelInputs) -> Path:
    series = inputs.debian_package.removeprefix("linux-source-")
    return Path(f"/usr/src/linux-source-{series}.tar.xz")


def _apt_line(packages: list[str]) -> str:
    return "apt-get install " + " ".join(sorted(set(packages)))


def check_prerequisites(inputs: KernelInputs, need_mkimage: bool = False) -> None:
    """Raise with the exact apt-get line when the source or a tool is missing."""
    missing: list[str] = []
    tools = dict(BUILD_TOOLS)
    if need_mkimage:
        tools.update(MKIMAGE)
    for prog, pkg in tools.items():
        if shutil.which(prog) is None:
            missing.append(pkg)
    for header, pkg in BUILD_HEADERS.items():
        if not Path(header).is_file():
            missing.append(pkg)
    pinned = f"{inputs.debian_package}={inputs.debian_version}"
    installed = installed_source_version(inputs)
    if installed != inputs.debian_version or not tarball_path(inputs).is_file():
        missing.append(pinned)
    if missing:
        have = f" (installed: {installed})" if installed else ""
        raise LinerateError(
            "missing build prerequisites" + have + "; install them with:\n  " + _apt_line(missing)
        )


def installed_source_version(inputs: KernelInputs) -> str | None:
    """Version of the Debian kernel source package, None if not installed."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status} ${Version}", inputs.debian_package],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) < 4 or parts[2] != "installed":
        return None
    return parts[3]


def file_digest(paths: list[Path] | tuple[Path, ...]) -> str:
    """Hash of file names and contents, in order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def source_key(inputs: KernelInputs) -> str:
    h = hashlib.sha256()
    h.update(f"{inputs.debian_package}={inputs.debian_version}\0".encode())
    h.update(file_digest(inputs.patches).encode())
    return h.hexdigest()[:16]


def source_dir(inputs: KernelInputs) -> Path:
    """One patched tree at a stable path (so ccache hits across configurations)."""
    return kernel_cache() / "src" / f"linux-{inputs.version}"


def _remove_tree(path: Path) -> None:
    """rm -rf, much faster than shutil.rmtree on a kernel tree."""
    if path.exists() or path.is_symlink():
        subprocess.run(["rm", "-rf", "--", str(path)], check=True)


def pristine_dir(inputs: KernelInputs) -> Path:
    version = re.sub(r"[^A-Za-z0-9.+-]", "_", inputs.debian_version)
    return kernel_cache() / "src" / f"pristine-{version}"


def _pristine_source(inputs: KernelInputs) -> Path:
    """The unpatched tree, extracted once per Debian package version."""
    tarball = tarball_path(inputs)
    pristine = pristine_dir(inputs)
    st = tarball.stat()
    ident = f"{inputs.debian_version} {st.st_size} {int(st.st_mtime)}"
    stamp = pristine / ".linerate-pristine"
    if stamp.is_file() and stamp.read_text() == ident:
        return pristine
    print(f"kernel: extracting {tarball} into {pristine}", flush=True)
    _remove_tree(pristine)
    tmp = pristine.parent / f".extract-{os.getpid()}"
    _remove_tree(tmp)
    tmp.mkdir(parents=True)
    try:
        res = subprocess.run(
            ["tar", "-xf", str(tarball), "-C", str(tmp)],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            raise LinerateError(f"cannot extract {tarball}: {res.stderr.strip()}")
        tops = [p for p in tmp.iterdir() if p.is_dir()]
        if len(tops) != 1 or not (tops[0] / "Makefile").is_file():
            raise LinerateError(f"{tarball}: expected one kernel tree at its top, found {tops}")
        check_source_version(tops[0], inputs)
        tops[0].rename(pristine)
    finally:
        _remove_tree(tmp)
    stamp.write_text(ident)
    return pristine


def prepare_source(inputs: KernelInputs, log: Path) -> Path:
    """The pinned source with the series applied; reused while unchanged.

    The tarball is extracted once (``pristine-<version>``); each patch set gets a
    hard-linked copy of it (``patch`` replaces the files it changes rather than
    writing through the links, so the pristine tree stays intact).
    """
    src = source_dir(inputs)
    stamp = src / ".linerate-source.json"
    key = source_key(inputs)
    if stamp.is_file():
        try:
            if json.loads(stamp.read_text()).get("key") == key:
                return src
        except (OSError, ValueError):
            pass
    pristine = _pristine_source(inputs)
    print(f"kernel: applying {len(inputs.patches)} patches in {src}", flush=True)
    _remove_tree(src)
    subprocess.run(["cp", "-al", str(pristine), str(src)], check=True)
    (src / ".linerate-pristine").unlink()
    apply_series(src, inputs.patches, log)
    stamp.write_text(json.dumps({"key": key, "patches": [p.name for p in inputs.patches]}))
    return src


def check_source_version(src: Path, inputs: KernelInputs) -> None:
    fields: dict[str, str] = {}
    for line in (src / "Makefile").read_text().splitlines()[:8]:
        if "=" in line:
            name, _, value = line.partition("=")
            fields[name.strip()] = value.strip()
    got = f"{fields.get('VERSION')}.{fields.get('PATCHLEVEL')}.{fields.get('SUBLEVEL')}"
    if got != inputs.version:
        raise LinerateError(
            f"kernel source is {got}, linux-ndiv.inc pins LINUX_VERSION {inputs.version}"
        )


def apply_series(src: Path, patches: tuple[Path, ...], log: Path) -> None:
    """patch -p1 each patch in order; fail naming the one that does not apply."""
    for patch in patches:
        res = subprocess.run(
            ["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-i", str(patch)],
            cwd=src,
            capture_output=True,
            text=True,
            check=False,
        )
        with log.open("a") as fh:
            fh.write(f"$ patch -p1 -i {patch}\n{res.stdout}{res.stderr}")
        if res.returncode != 0:
            raise LinerateError(
                f"patch {patch.name} does not apply to the pinned source "
                f"({src}):\n{(res.stdout + res.stderr).strip()}"
            )
