"""NAND through U-Boot (the Mirabox): one kernel partition, one UBI partition.

The NAND map has no room for A/B kernels (4 MiB), so the guarantee is weaker
than on NOR and the messages say so: the image is CRC-checked in RAM before
anything is erased; the partition is erased (bad blocks are skipped by U-Boot),
written, read back into a second RAM buffer and CRC-checked. An interruption
between erase and a good read-back leaves that partition unusable until the
flash is rerun; U-Boot itself (the read-only ``u-boot`` partition) is never
touched, so the board always comes back to U-Boot's prompt for the rerun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from linerate.board.profile import Nand, Partition, Profile
from linerate.console import UBootDriver
from linerate.flash import bootenv
from linerate.flash.errors import FlashError, ReadOnlyRegionError
from linerate.flash.progress import Progress
from linerate.flash.ram import RamLoader
from linerate.flash.ubootcmd import UBootCommands
from linerate.survey.lab import Lab

#: Medium name (``images:`` key, ``--medium``) -> NAND partition.
MEDIA = {"nand-kernel": "kernel", "nand-ubi": "ubi"}


@dataclass
class NandResult:
    partition: str
    size: int
    crc: int
    transport: str
    timings: list[tuple[str, float]] = field(default_factory=list)


def round_up(n: int, block: int) -> int:
    return (n + block - 1) // block * block


def check_writable(nand: Nand, part: Partition, size: int) -> None:
    if part.read_only:
        raise ReadOnlyRegionError(
            f"refusing to write the read-only NAND partition {part.name} "
            f"({part.offset:#x}-{part.end:#x}: the bootloader)",
            state="nothing done: the board is untouched",
        )
    for other in nand.partitions:
        if other.read_only and part.offset < other.end and other.offset < part.end:
            raise ReadOnlyRegionError(
                f"{part.name} overlaps the read-only {other.name}: fix the profile",
                state="nothing done",
            )
    if size > part.size - nand.erase_block:
        raise FlashError(
            f"the image ({size} bytes) leaves no spare erase block in {part.name} "
            f"({part.size} bytes) for a bad block: it may not fit; nothing done"
        )


@dataclass(frozen=True)
class Step:
    what: str
    command: str
    timeout: float


def plan(nand: Nand, part: Partition, size: int, ubi: bool, ram: int, verify: int) -> list[Step]:
    """The U-Boot commands of a NAND write: erase, write, read back into ``verify``.

    A UBI partition is erased whole (stale UBI blocks after the image would be attached
    with the new ones) and written with ``write.trimffs`` (pages of 0xff stay erased:
    UBIFS free space); a kernel partition is erased only as far as needed."""
    erase_len = part.size if ubi else round_up(size, nand.erase_block)
    write_len = round_up(size, nand.page)
    write = "nand write.trimffs" if ubi else "nand write"
    return [
        Step(
            f"nand erase {part.name} {part.offset:#x}+{erase_len:#x}",
            f"nand erase {part.offset:#x} {erase_len:#x}",
            60 + erase_len / 2e6,
        ),
        Step(
            f"nand write {write_len:#x} bytes to {part.name}",
            f"{write} {ram:#x} {part.offset:#x} {write_len:#x}",
            60 + write_len / 1e6,
        ),
        Step(
            f"read back {part.name}",
            f"nand read {verify:#x} {part.offset:#x} {write_len:#x}",
            60 + write_len / 1e6,
        ),
    ]


def ubi_from_linux(lab: Lab, medium: str) -> bool:
    """Whether the UBI partition must be written from Linux on this unit: its U-Boot
    has no ``nand write.trimffs`` (linerate.flash.ubi)."""
    return medium == "nand-ubi" and not lab.nand_features.get("write.trimffs")


def check_surveyed(lab: Lab, medium: str, rescue: bool = False) -> None:
    """Refuse what this unit's U-Boot cannot do, before anything is erased: a UBI image
    needs ``nand write.trimffs`` (since U-Boot 2011.09; plain ``nand write`` programs
    pages of 0xff and spoils UBIFS free space), else a rescue initramfs (``rescue``:
    the profile has one) to write it from Linux."""
    if rescue and ubi_from_linux(lab, medium):
        return
    if "nand" not in lab.commands:
        raise ReadOnlyRegionError(
            f"this unit's U-Boot has no nand command (survey {lab.path}): check the board",
            state="nothing done: the board is untouched",
        )
    if medium == "nand-ubi" and not lab.nand_features.get("write.trimffs"):
        raise ReadOnlyRegionError(
            f"this unit's U-Boot ({lab.banner}) has no `nand write.trimffs` (survey "
            f"{lab.path}), and a plain `nand write` would program the empty pages of the UBI "
            "image and spoil UBIFS free space, and the profile has no flash.nand.rescue to "
            "write it from Linux (ubiformat). Write it from a Linux shell yourself "
            "(ubiformat /dev/mtdN -f IMAGE); the kernel partition (--medium nand-kernel) can "
            "still be written here",
            state="nothing done: the board is untouched",
        )


class NandFlasher:
    def __init__(
        self,
        profile: Profile,
        uboot: UBootDriver,
        progress: Progress,
        loader: RamLoader,
        lab: Lab,
    ) -> None:
        if profile.flash.nand is None:
            raise FlashError(f"board {profile.name} has no NAND flash in its profile")
        self.lab = lab
        self.profile = profile
        self.nand: Nand = profile.flash.nand
        self.uboot = uboot
        self.cmd = UBootCommands(uboot, profile.uboot.hush and lab.hush)
        self.progress = progress
        self.loader = loader

    def _run(self, command: str, timeout: float, ok: str) -> str:
        return self.cmd.run_ok(command, timeout, ok)

    def flash(
        self, image: Path, medium: str, extra_env: dict[str, str] | None = None
    ) -> NandResult:
        if medium not in MEDIA:
            raise FlashError(f"unknown NAND medium {medium!r} ({', '.join(MEDIA)})")
        part = self.nand.partition(MEDIA[medium])
        size = image.stat().st_size
        check_writable(self.nand, part, size)
        check_surveyed(self.lab, medium)
        loaded = self.loader.load(image, self.profile.uboot.load_address)
        ubi = medium == "nand-ubi"
        failed = f"NAND partition {part.name} is erased or partly written: " + (
            "the kernel does not boot until it is rewritten; U-Boot is untouched"
            if not ubi
            else "the root file system does not mount until it is rewritten"
        )
        resume = "power-cycle to U-Boot's prompt and rerun the same linerate flash command"
        verify = self.profile.uboot.verify_address
        try:
            for step in plan(self.nand, part, size, ubi, loaded.address, verify):
                self.progress.phase(step.what)
                self._run(step.command, step.timeout, "OK")
                self.progress.done()
            self.progress.phase(f"CRC of {part.name} read back")
            got = self.cmd.crc32(verify, size)
        except FlashError as exc:
            raise FlashError(str(exc), state=failed, resume=resume) from exc
        if got != loaded.crc:
            raise FlashError(
                f"read-back CRC of {part.name} is {got:08x}, expected {loaded.crc:08x}",
                state=failed,
                resume=resume + " (if it repeats: nand bad, and check the partition map)",
            )
        self.progress.done(f"{got:08x} matches")
        env = self.uboot.printenv()
        changes = {
            name: value
            for name, value in {
                "bootcmd": self.profile.uboot.bootcmd,
                **self.profile.uboot.env,
                **(extra_env or {}),
            }.items()
            if env.get(name) != value
        }
        bootenv.commit(
            self.cmd,
            changes,
            self.loader.restore_net(),
            self.progress,
            state_if_failed=f"{part.name} holds the new image (verified)",
        )
        return NandResult(
            part.name, size, loaded.crc, loaded.transport, list(self.progress.timings)
        )
