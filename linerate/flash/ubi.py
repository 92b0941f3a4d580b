"""The UBI partition written from Linux: ``ubiformat`` in the rescue initramfs.

For a U-Boot without ``nand write.trimffs`` (the survey says which): a plain ``nand
write`` programs the empty pages of the image and spoils UBIFS free space, so the
flasher boots Linux from RAM instead and lets ``ubiformat`` write the image (empty
pages left erased, the erase counters of the partition kept). Steps, each only if the
one before succeeded:

1. at U-Boot: the board's kernel uImage and the rescue initramfs (linerate.flash.rescue)
   into RAM, each CRC-checked there; ``bootargs`` for the rescue; ``bootm`` from RAM.
   Nothing is written to flash and the environment is not saved: a power cycle
   brings the board back as it was;
2. in the rescue shell: the board's address on the flasher's network, the UBI
   partition found by its name in /proc/mtd (refused unless it is a NAND partition
   of the size the profile gives);
3. ``tftp | ubiformat -f - -S SIZE -y`` straight from the flasher's TFTP server;
4. ``ubiattach``, and the SHA-256 of each volume read back through UBI equals what
   the image holds for that volume (host side: :func:`volumes`), ``ubidetach``.

An interruption in step 3 leaves the UBI partition partly formatted: the root file
system does not mount until the flash is rerun. U-Boot and the kernel partition are
never touched, so the board comes back to U-Boot's prompt for the rerun.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shlex
import struct
from dataclasses import dataclass, field
from pathlib import Path

from linerate.board.profile import Nand, Profile, Rescue
from linerate.board.strategy import BoardStrategy
from linerate.console import ConsoleError, LinuxShell
from linerate.flash.errors import FlashError
from linerate.flash.nand import check_writable
from linerate.flash.progress import Progress
from linerate.flash.ram import RamLoader
from linerate.flash.rescue import PROMPT, kernel_uimage, rescue_initrd
from linerate.flash.tftp import linux_tftp_server
from linerate.kernel.build import find_build

EC_MAGIC = b"UBI#"
VID_MAGIC = b"UBI!"
#: UBI's internal volumes (the layout volume) start here: not user data.
INTERNAL_VOL = 0x7FFFEFFF
UBI_DEV = 9
_SHA_RE = re.compile(r"^([0-9a-f]{64})\b", re.M)
_MTD_RE = re.compile(r'^(mtd\d+): ([0-9a-f]+) ([0-9a-f]+) "([^"]*)"', re.M)


class UbiImageError(FlashError):
    """The file is not a UBI image of this flash's geometry."""


@dataclass(frozen=True)
class Volume:
    vol_id: int
    static: bool
    #: Bytes to read back through /dev/ubiX_Y and their SHA-256.
    length: int
    sha256: str


@dataclass
class UbiResult:
    partition: str
    size: int
    volumes: tuple[Volume, ...]
    timings: list[tuple[str, float]] = field(default_factory=list)


def volumes(image: Path, peb_size: int) -> tuple[Volume, ...]:
    """The user volumes of a UBI image (ubinize output) and what reading them gives.

    Each PEB holds an EC header, a VID header (volume, logical block, data size) and
    the LEB data. A dynamic volume reads back as all its LEBs up to the last one the
    image holds, each ``leb_size`` bytes (unwritten bytes read as 0xff); a static one
    as exactly the data its VID headers count."""
    data = image.read_bytes()
    if len(data) % peb_size or not data.startswith(EC_MAGIC):
        raise UbiImageError(
            f"{image} is not a UBI image for {peb_size:#x}-byte erase blocks (its size or "
            "first EC header does not fit): build it for this board (ubinize -p)"
        )
    lebs: dict[int, dict[int, bytes]] = {}
    static: dict[int, bool] = {}
    leb_size = 0
    for off in range(0, len(data), peb_size):
        peb = data[off : off + peb_size]
        if not peb.startswith(EC_MAGIC):
            if peb.strip(b"\xff"):
                raise UbiImageError(
                    f"{image} is not a UBI image for {peb_size:#x}-byte erase blocks (no EC "
                    f"header at {off:#x}): build it for this board (ubinize -p)",
                    state="nothing done: the board is untouched",
                )
            continue
        vid_off, data_off = struct.unpack_from(">II", peb, 16)
        leb_size = peb_size - data_off
        vid = peb[vid_off : vid_off + 64]
        if not vid.startswith(VID_MAGIC):
            continue  # an empty PEB
        vol_type = vid[5]
        vol_id, lnum = struct.unpack_from(">II", vid, 8)
        (data_size,) = struct.unpack_from(">I", vid, 20)
        if vol_id >= INTERNAL_VOL:
            continue
        static[vol_id] = vol_type == 2
        body = peb[data_off:]
        lebs.setdefault(vol_id, {})[lnum] = body[:data_size] if vol_type == 2 else body
    result = []
    for vol_id in sorted(lebs):
        blocks = lebs[vol_id]
        h = hashlib.sha256()
        length = 0
        for lnum in range(max(blocks) + 1):
            chunk = blocks.get(lnum, b"\xff" * leb_size)
            if not static[vol_id]:
                chunk = chunk.ljust(leb_size, b"\xff")
            h.update(chunk)
            length += len(chunk)
        result.append(Volume(vol_id, static[vol_id], length, h.hexdigest()))
    if not result:
        raise UbiImageError(f"{image} holds no user volume")
    return tuple(result)


def find_mtd(proc_mtd: str, name: str) -> tuple[str, int, int]:
    """``(mtdN, size, erase size)`` of the partition Linux calls ``name``."""
    for m in _MTD_RE.finditer(proc_mtd):
        if m.group(4) == name:
            return m.group(1), int(m.group(2), 16), int(m.group(3), 16)
    names = ", ".join(repr(m.group(4)) for m in _MTD_RE.finditer(proc_mtd)) or "none"
    raise FlashError(
        f"the rescue kernel has no MTD partition {name!r} (it has {names}): check the "
        "rescue bootargs (mtdparts=) in the board profile",
        state="nothing written: the board runs the rescue shell from RAM",
        resume="power-cycle (the board boots as before) and fix the profile",
    )


def rescue_images(profile: Profile, kernel: Path | None) -> tuple[Path, Path]:
    """The rescue boot's kernel uImage and initramfs for this board.

    Real boards boot the build's kernel uImage (``kernel``: the nand-kernel image);
    virtual boards the project's kernel build, wrapped here (``rescue.kernel_load``),
    with the modules the profile's rescue needs from that build."""
    assert profile.flash.nand is not None and profile.flash.nand.rescue is not None
    rescue = profile.flash.nand.rescue
    build = None
    if rescue.modules or rescue.kernel_load is not None:
        build = find_build("virt" if profile.virtual else "boards")
        if build is None or build.zimage is None:
            raise FlashError(
                "the rescue boot needs the project's kernel build: run "
                f"linerate kernel --target {'virt' if profile.virtual else 'boards'}"
            )
    modules: list[Path] = []
    for name in rescue.modules:
        assert build is not None
        found = sorted(build.outdir.rglob(f"{name}.ko"))
        if not found:
            raise FlashError(f"the kernel build in {build.outdir} has no {name}.ko")
        modules.append(found[0])
    initrd, _ = rescue_initrd(tuple(modules))
    if rescue.kernel_load is not None:
        assert build is not None and build.zimage is not None
        return kernel_uimage(build.zimage, rescue.kernel_load)[0], initrd
    if kernel is None:
        raise FlashError(
            "the rescue boot needs the board's kernel uImage (the build's nand-kernel image): "
            "give --rescue-kernel"
        )
    return kernel, initrd


class UbiFromLinux:
    """Write ``nand-ubi`` from the rescue initramfs (see the module doc)."""

    def __init__(
        self,
        profile: Profile,
        strategy: BoardStrategy,
        progress: Progress,
        loader: RamLoader,
    ) -> None:
        nand = profile.flash.nand
        if nand is None or nand.rescue is None:
            raise FlashError(
                f"board {profile.name} has no flash.nand.rescue in its profile: the UBI "
                "partition cannot be written from Linux there"
            )
        self.profile = profile
        self.nand: Nand = nand
        self.rescue: Rescue = nand.rescue
        self.strategy = strategy
        self.progress = progress
        self.loader = loader
        self.shell = LinuxShell(strategy.port, prompt=PROMPT)

    def boot_rescue(self, kernel: Path, initrd: Path) -> str:
        """Step 1: kernel and rescue initramfs into RAM, CRC-checked; bootm; the shell."""
        ub = self.strategy.uboot
        k = self.loader.load(kernel, self.profile.uboot.load_address)
        r_addr = (k.address + k.size + (1 << 20)) & ~0xFFFFF
        if r_addr + initrd.stat().st_size > self.profile.uboot.verify_address:
            r_addr = self.profile.uboot.verify_address
        r = self.loader.load(initrd, r_addr)
        ub.check(f"setenv bootargs {self.rescue.bootargs}")
        boot = self.rescue.boot.replace("@kernel@", f"{k.address:#x}")
        boot = boot.replace("@initrd@", f"{r.address:#x}")
        self.progress.phase("boot the rescue initramfs from RAM")
        ub.boot(boot)
        log = self.shell.wait_for_shell(timeout=180.0)
        self.progress.done()
        return log

    def _sh(self, command: str, timeout: float = 30.0) -> str:
        return self.shell.check(command, timeout=timeout)

    def check_image(self, image: Path) -> tuple[Volume, ...]:
        """The image's volumes, or a refusal before the board is touched."""
        # The same rules as a write from U-Boot: never a read-only partition or one
        # overlapping it, and a spare erase block for a bad block.
        check_writable(self.nand, self.nand.partition("ubi"), image.stat().st_size)
        return volumes(image, self.nand.erase_block)

    def flash(self, image: Path, kernel: Path, initrd: Path) -> UbiResult:
        expected = self.check_image(image)
        self.boot_rescue(kernel, initrd)
        return self.write(image, expected)

    def write(self, image: Path, expected: tuple[Volume, ...]) -> UbiResult:
        """Steps 2-4, in the rescue shell."""
        part = self.nand.partition("ubi")
        size = image.stat().st_size
        for command in self.rescue.setup:
            self._sh(command, timeout=60.0)
        mtd, mtd_size, erase = find_mtd(self._sh("cat /proc/mtd"), self.rescue.ubi_mtd)
        kind = self._sh(f"cat /sys/class/mtd/{mtd}/type").strip()
        if (
            kind not in ("nand", "mlc-nand")
            or mtd_size != part.size
            or erase != (self.nand.erase_block)
        ):
            raise FlashError(
                f"/dev/{mtd} ({self.rescue.ubi_mtd!r}) is {kind}, {mtd_size:#x} bytes in "
                f"{erase:#x} blocks; the profile's ubi partition is NAND, {part.size:#x} bytes "
                f"in {self.nand.erase_block:#x} blocks: refusing to write a partition that is "
                "not the one the profile means",
                state="nothing written: the board runs the rescue shell from RAM",
                resume="power-cycle (the board boots as before) and fix the profile",
            )
        t = self.profile.tftp
        server, server_ip = linux_tftp_server(t, image, self.progress)
        # The port U-Boot used (ethaddr's), with U-Boot's address for the flash.
        iface = next(p.name for p in self.profile.ports if p.mac_env == "ethaddr")
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{t.netmask}").prefixlen
        self._sh(
            f"n=0; while [ ! -e /sys/class/net/{iface} ] && [ $n -lt 100 ]; do sleep 0.1; "
            f"n=$((n + 1)); done; ip addr add {t.ipaddr}/{prefix} dev {iface} && "
            f"ip link set {iface} up",
            timeout=30.0,
        )
        failed = (
            f"the UBI partition /dev/{mtd} is partly formatted: the root file system does not "
            "mount until it is rewritten; U-Boot and the kernel partition are untouched"
        )
        resume = "power-cycle to U-Boot's prompt and rerun the same linerate flash command"
        name = shlex.quote(image.name)
        with server:
            try:
                self.progress.phase(f"tftp | ubiformat /dev/{mtd} ({size} bytes)")
                self._sh(
                    f"set -o pipefail; tftp -g -b 1468 -r {name} -l - {server_ip} {server.port}"
                    f" | ubiformat /dev/{mtd} -f - -S {size} -y -q",
                    timeout=300 + size / 1e6,
                )
                self.progress.done()
            except ConsoleError as exc:
                raise FlashError(f"ubiformat failed: {exc}", state=failed, resume=resume) from exc
        try:
            self.progress.phase(f"read back the {len(expected)} volume(s) through UBI")
            self._sh(f"ubiattach -m {mtd.removeprefix('mtd')} -d {UBI_DEV}", timeout=120.0)
            for vol in expected:
                out = self._sh(
                    f"head -c {vol.length} /dev/ubi{UBI_DEV}_{vol.vol_id} | sha256sum",
                    timeout=60 + vol.length / 5e6,
                )
                m = _SHA_RE.search(out)
                if not m or m.group(1) != vol.sha256:
                    raise FlashError(
                        f"volume {vol.vol_id} reads back differently from the image "
                        f"({m.group(1) if m else out!r} != {vol.sha256})",
                        state=failed,
                        resume=resume + " (if it repeats: check the NAND's ECC and bad blocks)",
                    )
            self._sh(f"ubidetach -d {UBI_DEV}", timeout=60.0)
            self.progress.done("every volume matches")
        except ConsoleError as exc:
            raise FlashError(f"read-back failed: {exc}", state=failed, resume=resume) from exc
        return UbiResult(mtd, size, expected, list(self.progress.timings))
