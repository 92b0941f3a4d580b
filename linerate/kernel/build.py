"""Configure and cross-build the ndiv kernel (and the SLHTTPD module).

Every target builds in its own output directory (``make O=``) under the
kernel cache, named by a hash of its inputs; a finished build leaves a
manifest (``linerate-<target>.json``) there, so a second run with the same
inputs only reads it. A stable symlink ``<cache>/kernel/<target>`` points at
the newest finished build of each target.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linerate import ROOT
from linerate.board.profile import load_profile
from linerate.errors import LinerateError
from linerate.kernel.inputs import FILES_DIR, INC_PATH, KernelInputs, parse_inc
from linerate.kernel.source import (
    CROSS_COMPILE,
    check_prerequisites,
    file_digest,
    kernel_cache,
    prepare_source,
    source_key,
)

#: Bump when the build procedure changes in a way that changes outputs.
RECIPE_VERSION = "1"
BUILD_TIMESTAMP = "2026-01-01 00:00:00 UTC"
MODULE_DIR = ROOT / "slhttpd" / "kernel"
CORE_DIR = ROOT / "slhttpd" / "core"
BOARD_DTBS = (
    "marvell/armada-xp-openblocks-ax3-4.dtb",
    "marvell/armada-370-mirabox.dtb",
)
#: Objects the patch series touches, compiled by boards-check with the board
#: configuration (Kbuild compiles a named object even when its driver is not
#: configured: the Intel drivers and virtio_net are not in the boards' kernel).
#: ixgbe is only build-tested: QEMU has no ixgbe model. e1000e's netdev.o needs its
#: directory's include flags, which an unconfigured directory does not get: it is
#: built (configured) by the virt target, as are e1000, igb and virtio_net.
PATCHED_OBJECTS = (
    "net/core/ndiv.o",
    "net/core/dev.o",
    "net/ethernet/eth.o",
    "drivers/net/ethernet/marvell/mvneta.o",
    "drivers/net/ethernet/intel/e1000/e1000_main.o",
    "drivers/net/ethernet/intel/igb/igb_main.o",
    "drivers/net/ethernet/intel/ixgbe/ixgbe_main.o",
    "drivers/net/virtio_net.o",
)
#: Fragments from linux-ndiv.inc the virtual board shares with the boards.
VIRT_SHARED_FRAGMENTS = ("ndiv.cfg",)
UIMAGE_LOAD = "0x8000"
#: The vendor-era virtual board (QEMU vexpress-a9) boots the virt kernel with this
#: DTB appended (board/vexpress).
VEXPRESS_DTB = "arm/vexpress-v2p-ca9.dtb"


@dataclass(frozen=True)
class Target:
    name: str
    base: str  # a *config target: allnoconfig, multi_v7_defconfig...
    fragments: tuple[Path, ...]
    outdir_prefix: str  # builds sharing a configuration share a directory
    goals: tuple[str, ...] = ()
    module: bool = False
    boards: bool = False
    check_objects: tuple[str, ...] = field(default=())


def targets(inputs: KernelInputs) -> dict[str, Target]:
    shared = tuple(f for f in inputs.fragments if f.name in VIRT_SHARED_FRAGMENTS)
    virt = Target(
        name="virt",
        base="allnoconfig",
        fragments=(FILES_DIR / "virt.cfg", *shared),
        outdir_prefix="virt",
        goals=("zImage", "modules", VEXPRESS_DTB),
        module=True,
    )
    boards = Target(
        name="boards",
        base=inputs.defconfig,
        fragments=inputs.fragments,
        outdir_prefix="boards",
        goals=("zImage", *BOARD_DTBS),
        boards=True,
    )
    check = Target(
        name="boards-check",
        base=inputs.defconfig,
        fragments=inputs.fragments,
        outdir_prefix="boards",
        goals=BOARD_DTBS,
        check_objects=PATCHED_OBJECTS,
    )
    return {t.name: t for t in (virt, boards, check)}


def toolchain_id() -> str:
    out = subprocess.run(
        [f"{CROSS_COMPILE}gcc", "--version"], capture_output=True, text=True, check=False
    )
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def config_key(inputs: KernelInputs, target: Target) -> str:
    """Hash of everything the kernel build depends on."""
    h = hashlib.sha256()
    for part in (
        RECIPE_VERSION,
        source_key(inputs),
        target.base,
        file_digest(target.fragments),
        toolchain_id(),
        BUILD_TIMESTAMP,
    ):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def module_key() -> str:
    files = sorted(MODULE_DIR.glob("*")) + sorted(CORE_DIR.glob("*.[ch]"))
    return file_digest([f for f in files if f.is_file()])[:16]


def outdir(inputs: KernelInputs, target: Target) -> Path:
    return kernel_cache() / f"{target.outdir_prefix}-{config_key(inputs, target)}"


def manifest_path(out: Path, target: Target) -> Path:
    return out / f"linerate-{target.name}.json"


def read_manifest(out: Path, target: Target) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(manifest_path(out, target).read_text())
    except (OSError, ValueError):
        return None
    return data


class Builder:
    """Runs make for one target in its output directory, logging to build.log."""

    def __init__(self, src: Path, out: Path, jobs: int, verbose: bool) -> None:
        self.src = src
        self.out = out
        self.jobs = jobs
        self.verbose = verbose
        self.log = out / "build.log"
        cache = kernel_cache()
        self.env = dict(os.environ)
        self.env.update(
            {
                "CCACHE_DIR": str(cache / "ccache"),
                "CCACHE_BASEDIR": str(cache),
                "CCACHE_NOHASHDIR": "1",
                "CCACHE_MAXSIZE": os.environ.get("LINERATE_CCACHE_SIZE", "6G"),
                "KBUILD_BUILD_TIMESTAMP": BUILD_TIMESTAMP,
                "KBUILD_BUILD_USER": "linerate",
                "KBUILD_BUILD_HOST": "linerate",
                "LC_ALL": "C",
            }
        )

    def make_args(self) -> list[str]:
        return [
            f"O={self.out}",
            "ARCH=arm",
            f"CROSS_COMPILE={CROSS_COMPILE}",
            f"CC=ccache {CROSS_COMPILE}gcc",
            "LOCALVERSION=",
        ]

    def run(self, what: str, cmd: list[str], cwd: Path | None = None) -> None:
        print(f"kernel: {what}", flush=True)
        start = time.monotonic()
        with self.log.open("a") as fh:
            fh.write(f"\n$ {' '.join(cmd)}\n")
            fh.flush()
            res = subprocess.run(
                cmd,
                cwd=cwd or self.src,
                env=self.env,
                stdout=sys.stderr if self.verbose else fh,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if res.returncode != 0:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
            raise LinerateError(
                f"{what} failed (exit {res.returncode}); full log: {self.log}\n{tail}"
            )
        print(f"kernel:   done in {time.monotonic() - start:.0f} s", flush=True)

    def make(self, what: str, *goals: str) -> None:
        cmd = ["nice", "-n", "10", "make", "-C", str(self.src), *self.make_args()]
        self.run(what, [*cmd, f"-j{self.jobs}", *goals])


def _fragment_lines(fragment: Path) -> dict[str, str]:
    """CONFIG_FOO -> 'y' / '"str"' / 'n' (for "is not set")."""
    want: dict[str, str] = {}
    for line in fragment.read_text().splitlines():
        line = line.strip()
        m = re.match(r"^# (CONFIG_\w+) is not set$", line)
        if m:
            want[m.group(1)] = "n"
        elif line.startswith("CONFIG_") and "=" in line:
            name, _, value = line.partition("=")
            want[name] = value
    return want


def read_config(config: Path) -> dict[str, str]:
    have: dict[str, str] = {}
    for line in config.read_text().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            name, _, value = line.partition("=")
            have[name] = value
    return have


def check_config(config: Path, fragments: tuple[Path, ...]) -> None:
    """Every option the fragments ask for must survive olddefconfig."""
    have = read_config(config)
    wrong = []
    for frag in fragments:
        for name, value in _fragment_lines(frag).items():
            got = have.get(name, "n")
            if got != value:
                wrong.append(f"{name}={value} ({frag.name}) but the config has {got}")
    if wrong:
        raise LinerateError(
            f"{config}: options from the fragments did not survive (check their "
            "dependencies):\n  " + "\n  ".join(wrong)
        )


def configure(b: Builder, target: Target) -> None:
    config = b.out / ".config"
    b.make(f"configuring {target.base}", target.base)
    merge = b.src / "scripts" / "kconfig" / "merge_config.sh"
    b.run(
        "merging fragments " + " ".join(f.name for f in target.fragments),
        [str(merge), "-m", "-O", str(b.out), str(config), *map(str, target.fragments)],
    )
    b.make("resolving the configuration (olddefconfig)", "olddefconfig")
    check_config(config, target.fragments)


def modinfo_field(ko: Path, name: str) -> str | None:
    """A field of a module's .modinfo section (no kmod needed)."""
    data = ko.read_bytes()
    m = re.search(rb"(?:^|\0)" + re.escape(name.encode()) + rb"=([^\0]*)", data)
    return m.group(1).decode() if m else None


def build_module(b: Builder) -> Path:
    mod_out = b.out / "slhttpd-module"
    # Built afresh each time (ccache keeps it a matter of seconds): make's timestamps cannot
    # be trusted in a cache that several checkouts share. A core source merged at 18:06 is
    # "older" than its object built at 18:08 from another worktree's copy, and a module linked
    # from such stale objects failed (undefined symbols) or, worse, loaded the old core.
    if mod_out.exists():
        shutil.rmtree(mod_out)
    b.run(
        "building the SLHTTPD module",
        [
            "nice",
            "-n",
            "10",
            "make",
            "-C",
            str(MODULE_DIR),
            f"KDIR={b.out}",
            f"OUT={mod_out}",
            "ARCH=arm",
            f"CROSS_COMPILE={CROSS_COMPILE}",
            f"CC=ccache {CROSS_COMPILE}gcc",
            f"-j{b.jobs}",
        ],
        cwd=MODULE_DIR,
    )
    ko = mod_out / "slhttpd.ko"
    if not ko.is_file():
        raise LinerateError(f"the module build left no {ko}; see {b.log}")
    return ko


#: Where each board's kernel uImage is written: (board profile, flash, partition).
BOARD_KERNEL_PARTITIONS = {
    "armada-370-mirabox": ("mirabox", "nand", "kernel"),
    "armada-xp-openblocks-ax3-4": ("openblocks-ax3", "nor", "uimage-a"),
}


def check_fits(name: str, uimage: Path) -> None:
    """The uImage must fit the partition the board profile gives it (the AX3's NOR slot
    must also hold the initramfs: there the kernel is only checked against the slot)."""
    board, medium, part_name = BOARD_KERNEL_PARTITIONS[name]
    flash = load_profile(board).flash
    chip = flash.nand if medium == "nand" else flash.nor
    if chip is None:
        raise LinerateError(f"board {board}: no {medium} in its profile")
    part = chip.partition(part_name)
    size = uimage.stat().st_size
    if size > part.size:
        raise LinerateError(
            f"{uimage.name} is {size} bytes, more than the {part.size}-byte {part_name} "
            f"partition of {board} ({medium}): trim the kernel configuration "
            "(recipes/linux-ndiv/files/appliance-size.cfg)"
        )


def package_boards(b: Builder, release: str) -> dict[str, dict[str, str]]:
    """zImage + appended DTB and a legacy uImage at 0x8000 for each board."""
    boot = b.out / "arch" / "arm" / "boot"
    zimage = boot / "zImage"
    boards: dict[str, dict[str, str]] = {}
    for dtb_rel in BOARD_DTBS:
        dtb = boot / "dts" / dtb_rel
        name = Path(dtb_rel).stem
        appended = b.out / f"zImage-{name}"
        appended.write_bytes(zimage.read_bytes() + dtb.read_bytes())
        uimage = b.out / f"uImage-{name}"
        b.run(
            f"making uImage-{name}",
            [
                "mkimage",
                "-A",
                "arm",
                "-O",
                "linux",
                "-T",
                "kernel",
                "-C",
                "none",
                "-a",
                UIMAGE_LOAD,
                "-e",
                UIMAGE_LOAD,
                "-n",
                f"Linux-{release}"[:31],
                "-d",
                str(appended),
                str(uimage),
            ],
            cwd=b.out,
        )
        check_fits(name, uimage)
        boards[name] = {"dtb": str(dtb), "zimage_dtb": str(appended), "uimage": str(uimage)}
    return boards


def finished_build(
    inputs: KernelInputs, target: Target, with_module: bool
) -> dict[str, Any] | None:
    """The manifest of a finished build with exactly these inputs, else None."""
    out = outdir(inputs, target)
    mkey = module_key() if with_module and target.module else None
    manifest = read_manifest(out, target)
    if manifest and manifest.get("key") == out.name and manifest.get("module_key") == mkey:
        manifest["cached"] = True
        return manifest
    return None


def build(
    inputs: KernelInputs,
    src: Path,
    target: Target,
    *,
    jobs: int,
    with_module: bool,
    verbose: bool,
    force: bool,
) -> dict[str, Any]:
    """Build @target unless a finished build with the same inputs exists."""
    out = outdir(inputs, target)
    key = out.name
    mkey = module_key() if with_module and target.module else None
    manifest = None if force else read_manifest(out, target)
    cached = finished_build(inputs, target, with_module) if not force else None
    if cached:
        return cached

    out.mkdir(parents=True, exist_ok=True)
    b = Builder(src, out, jobs, verbose)
    start = time.monotonic()
    kernel_done = manifest and manifest.get("key") == key
    if not kernel_done:
        print(f"kernel: building target {target.name} in {out} (log: {b.log})", flush=True)
        configure(b, target)
        if target.goals:
            b.make("building " + " ".join(target.goals), *target.goals)
        if target.check_objects:
            b.make("compiling the patched objects", *target.check_objects)
    config = out / ".config"
    release = (out / "include" / "config" / "kernel.release").read_text().strip()
    result: dict[str, Any] = {
        "target": target.name,
        "key": key,
        "outdir": str(out),
        "source": str(src),
        "release": release,
        "config": str(config),
        "log": str(b.log),
        "patches": [p.name for p in inputs.patches],
        "fragments": [f.name for f in target.fragments],
    }
    boot = out / "arch" / "arm" / "boot"
    if "zImage" in target.goals:
        result["zImage"] = str(boot / "zImage")
        result["vmlinux"] = str(out / "vmlinux")
        result["system_map"] = str(out / "System.map")
    if VEXPRESS_DTB in target.goals:
        result["vexpress_dtb"] = str(boot / "dts" / VEXPRESS_DTB)
    if target.boards:
        result["boards"] = package_boards(b, release)
    if target.check_objects:
        result["objects"] = [str(out / o) for o in target.check_objects]
        result["dtbs"] = [str(boot / "dts" / d) for d in BOARD_DTBS]
    if mkey:
        ko = build_module(b)
        result["module"] = str(ko)
        result["module_vermagic"] = modinfo_field(ko, "vermagic")
        result["module_key"] = mkey
    else:
        result["module_key"] = None
    for path_key in ("zImage", "module"):
        if path_key in result and not Path(result[path_key]).is_file():
            raise LinerateError(f"build finished but {result[path_key]} is missing; see {b.log}")
    result["build_seconds"] = round(time.monotonic() - start, 1)
    manifest_path(out, target).write_text(json.dumps(result, indent=2) + "\n")
    link = kernel_cache() / target.name
    tmp_link = kernel_cache() / f".{target.name}.tmp"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(out.name)
    os.replace(tmp_link, link)
    result["cached"] = False
    prune_outdirs(target.outdir_prefix, keep={out})
    return result


def prune_outdirs(prefix: str, keep: set[Path], newest: int = 2) -> None:
    """Delete all but the newest output directories of a prefix (about 150 MB
    each for virt, 1.5 GB for boards); @keep always stays."""
    dirs = sorted(
        (d for d in kernel_cache().glob(f"{prefix}-*") if d.is_dir() and not d.is_symlink()),
        key=lambda d: d.stat().st_mtime,
        reverse=True,
    )
    for d in dirs[newest:]:
        if d not in keep:
            shutil.rmtree(d, ignore_errors=True)


@dataclass(frozen=True)
class KernelBuild:
    """A finished build of one target: what callers use, typed (the manifest has it all)."""

    target: str
    release: str
    outdir: Path
    #: zImage (virt and boards targets), the SLHTTPD module (virt, unless skipped).
    zimage: Path | None
    module: Path | None
    #: True when the build was found finished, not built now.
    cached: bool
    #: The manifest as written next to the build (``linerate kernel --json`` prints it).
    manifest: dict[str, Any]

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> KernelBuild:
        zimage, module = manifest.get("zImage"), manifest.get("module")
        return cls(
            target=manifest["target"],
            release=manifest.get("release", ""),
            outdir=Path(manifest["outdir"]),
            zimage=Path(zimage) if zimage else None,
            module=Path(module) if module else None,
            cached=bool(manifest.get("cached")),
            manifest=manifest,
        )


class CacheLock:
    """One kernel build at a time per cache (they share the source tree)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: Any = None

    def __enter__(self) -> CacheLock:
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


def find_build(name: str) -> KernelBuild | None:
    """The finished build of target ``name`` for the current inputs, else None (no lock,
    no tools needed, nothing built)."""
    inputs = parse_inc(INC_PATH)
    target = targets(inputs)[name]
    manifest = read_manifest(outdir(inputs, target), target)
    if manifest is None:
        return None
    manifest["cached"] = True
    return KernelBuild.from_manifest(manifest)


def build_target(
    name: str,
    *,
    with_module: bool = True,
    jobs: int = 2,
    verbose: bool = False,
    force: bool = False,
) -> KernelBuild:
    """Build target ``name`` (virt, boards, boards-check) unless a finished build with the
    same inputs exists; progress lines go to stdout."""
    inputs = parse_inc(INC_PATH)
    target = targets(inputs)[name]
    manifest = None if force else finished_build(inputs, target, with_module)
    if manifest is None:
        check_prerequisites(inputs, need_mkimage=target.boards)
        with CacheLock(kernel_cache() / ".lock"):
            src = prepare_source(inputs, kernel_cache() / "source.log")
            manifest = build(
                inputs,
                src,
                target,
                jobs=max(1, jobs),
                with_module=with_module,
                verbose=verbose,
                force=force,
            )
    if not manifest.get("release"):
        raise LinerateError("build finished without a kernel release string")
    return KernelBuild.from_manifest(manifest)
