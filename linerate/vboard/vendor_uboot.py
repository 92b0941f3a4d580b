"""The vendor-era U-Boot of the ``vexpress`` virtual board: v2011.12, ``ca9x4_ct_vxp``.

Built with ``board/vexpress/u-boot/build-uboot.sh`` (its patches make gcc 12 build
it and add what the rig needs) from a pristine v2011.12 tree, never committed here:

* ``$LINERATE_UBOOT_SRC``: a tree (``git archive v2011.12 | tar -x``), or
* ``$LINERATE_UBOOT_GIT``: a git directory with the tag v2011.12 (default: the
  mirror at /work/.mirror/u-boot+u-boot/repo when it exists).

A build is kept under ``$LINERATE_CACHE/vboard/uboot-v2011.12-<key>/`` where the key
hashes the script, the patches, the variant and the cross toolchain, as the kernel's
builds are; a second call with the same inputs only finds it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from linerate import ROOT
from linerate.cache import cache_root
from linerate.errors import LinerateError

VERSION = "v2011.12"
SCRIPT_DIR = ROOT / "board" / "vexpress" / "u-boot"
BUILD_SCRIPT = SCRIPT_DIR / "build-uboot.sh"
PATCH_DIR = SCRIPT_DIR / "patches"
DEFAULT_GIT = Path("/work/.mirror/u-boot+u-boot/repo")
CROSS_COMPILE = "arm-linux-gnueabihf-"
#: The stock command parser ("nohush") and the variant with hush.
PARSERS = ("nohush", "hush")
HOW_TO_PROVIDE = (
    "give a pristine U-Boot v2011.12 tree with LINERATE_UBOOT_SRC=DIR "
    "(git archive v2011.12 | tar -x -C DIR, from https://source.denx.de/u-boot/u-boot.git) "
    "or a git directory holding the tag v2011.12 with LINERATE_UBOOT_GIT=DIR"
)


@dataclass(frozen=True)
class VendorUBoot:
    """One finished build: ``binary`` is u-boot.bin of the NOR variant (linked at 0,
    written at offset 0 of NOR bank 0)."""

    parser: str
    binary: Path
    outdir: Path
    cached: bool

    @property
    def hush(self) -> bool:
        return self.parser == "hush"


def toolchain_id() -> str:
    try:
        out = subprocess.run(
            [f"{CROSS_COMPILE}gcc", "--version"], capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise LinerateError(
            f"{CROSS_COMPILE}gcc not found: apt-get install gcc-arm-linux-gnueabihf"
        ) from exc
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def build_key(parser: str, boot: str = "nor") -> str:
    """Hash of what the build depends on: script, patches, variant, toolchain."""
    h = hashlib.sha256()
    h.update(f"{VERSION}\0{parser}\0{boot}\0{toolchain_id()}\0".encode())
    for path in (BUILD_SCRIPT, *sorted(PATCH_DIR.glob("*.patch"))):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build_dir(parser: str) -> Path:
    return cache_root() / "vboard" / f"uboot-{VERSION}-{parser}-{build_key(parser)}"


def _check_parser(parser: str) -> None:
    if parser not in PARSERS:
        raise LinerateError(f"U-Boot {VERSION} variant {parser!r}: expected one of {PARSERS}")


def find_uboot(parser: str = "nohush") -> VendorUBoot | None:
    """The finished build of this variant for the current inputs, else None."""
    _check_parser(parser)
    out = build_dir(parser)
    binary = out / "u-boot.bin"
    return VendorUBoot(parser, binary, out, True) if binary.is_file() else None


def _git_dir() -> Path | None:
    given = os.environ.get("LINERATE_UBOOT_GIT")
    if given:
        return Path(given)
    return DEFAULT_GIT if DEFAULT_GIT.is_dir() else None


def _export_source(dest: Path) -> Path:
    """A pristine tree at ``dest`` (or the one $LINERATE_UBOOT_SRC names)."""
    given = os.environ.get("LINERATE_UBOOT_SRC")
    if given:
        src = Path(given)
        if not (src / "include" / "configs" / "ca9x4_ct_vxp.h").is_file():
            raise LinerateError(
                f"LINERATE_UBOOT_SRC={src} is not a U-Boot {VERSION} tree "
                f"(no include/configs/ca9x4_ct_vxp.h): {HOW_TO_PROVIDE}"
            )
        return src
    git = _git_dir()
    if git is None:
        raise LinerateError(
            f"no U-Boot {VERSION} source to build the vexpress board's: " + HOW_TO_PROVIDE
        )
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", f"--git-dir={git}", "archive", VERSION],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise LinerateError(
            f"git --git-dir={git} archive {VERSION} failed "
            f"({archive.stderr.decode(errors='replace').strip()}): {HOW_TO_PROVIDE}"
        )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def build_uboot(parser: str = "nohush", verbose: bool = False) -> VendorUBoot:
    """Find or build U-Boot v2011.12 (NOR variant) with the stock parser or hush."""
    found = find_uboot(parser)
    if found is not None:
        return found
    if shutil.which(f"{CROSS_COMPILE}gcc") is None:
        raise LinerateError(
            f"{CROSS_COMPILE}gcc not found: apt-get install gcc-arm-linux-gnueabihf"
        )
    out = build_dir(parser)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".uboot-", dir=out.parent) as tmp:
        work = Path(tmp)
        src = _export_source(work / "pristine")
        res = subprocess.run(
            ["bash", str(BUILD_SCRIPT), str(src), str(work / "out"), parser, "nor"],
            capture_output=not verbose,
            text=True,
            check=False,
            env={**os.environ, "CROSS_COMPILE": CROSS_COMPILE},
        )
        if res.returncode != 0:
            tail = "\n".join(((res.stdout or "") + (res.stderr or "")).splitlines()[-30:])
            raise LinerateError(f"building U-Boot {VERSION} ({parser}) failed:\n{tail}")
        staging = work / "result"
        staging.mkdir()
        built = work / "out" / "build"
        shutil.copy2(built / "u-boot.bin", staging / "u-boot.bin")
        shutil.copy2(built / "u-boot", staging / "u-boot.elf")
        shutil.copy2(work / "out" / "build.log", staging / "build.log")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    return VendorUBoot(parser, out / "u-boot.bin", out, False)
