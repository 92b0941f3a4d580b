"""What the flasher may write on this unit: the profile's slots, checked against the
unit's survey (its lab file), before any command is sent.

A NOR write is allowed only when

1. the unit was surveyed (a lab file for this board exists);
2. U-Boot's address of the flash comes from that survey (``flinfo``): the profile's
   ``flash.nor.base`` if it is one of the surveyed banks, else the one bank surveyed;
3. the whole erase range lies inside one surveyed bank and holds no sector that
   ``flinfo`` reported read-only (U-Boot protects its own sectors and its
   environment), so ``protect off`` never spans such a sector either;
4. it lies inside a firmware area the unit's Linux reported (a writable flash
   partition whose name is not a bootloader's, environment's or vendor data's);
5. it overlaps none of the profile's read-only partitions.

Each refusal names the sector or area and what to do; nothing is sent to the board.
"""

from __future__ import annotations

from dataclasses import dataclass

from linerate.board.profile import Nor, Profile
from linerate.flash.errors import ReadOnlyRegionError
from linerate.survey.flinfo import Bank
from linerate.survey.lab import Lab


def _refuse(message: str) -> ReadOnlyRegionError:
    return ReadOnlyRegionError(message, state="nothing done: the board is untouched")


def require_lab(profile: Profile, lab: Lab | None, port: str | None = None) -> Lab:
    """The unit's lab file, or the refusal that says how to make one."""
    how = f"linerate survey --board {profile.name} --port {port or 'DEV'} --linux"
    if lab is None:
        raise _refuse(
            f"no survey of this {profile.name} unit: the flasher writes nothing it has not "
            f"measured on the unit. Run `{how}` first (it reads flinfo, printenv and the "
            "board's /sys/class/mtd and writes the unit's lab file), then flash again"
        )
    if lab.board != profile.name:
        raise _refuse(
            f"the lab file {lab.path} is of a {lab.board} board, not {profile.name}: give "
            f"this unit's lab file (--lab) or run `{how}`"
        )
    return lab


@dataclass(frozen=True)
class SurveyedNor:
    """The profile's NOR as this unit's survey placed it."""

    nor: Nor
    lab: Lab
    base: int
    bank: Bank
    #: U-Boot's address of offset 0 of the unit's Linux MTD device.
    mtd_base: int
    note: str = ""

    @classmethod
    def of(cls, profile: Profile, lab: Lab) -> SurveyedNor:
        nor = profile.flash.nor
        if nor is None:
            raise _refuse(f"board {profile.name} has no NOR flash in its profile")
        banks = lab.nor_banks
        if not banks:
            raise _refuse(
                f"the survey of this unit ({lab.path}) found no NOR flash (flinfo listed no "
                "bank): nothing to write; check the board, or rerun linerate survey"
            )
        note = ""
        bank = next((b for b in banks if b.base == nor.base), None)
        if bank is None:
            if len(banks) != 1:
                have = ", ".join(f"{b.base:#x}" for b in banks)
                raise _refuse(
                    f"the profile's NOR base {nor.base:#x} is none of the banks this unit's "
                    f"U-Boot reported ({have}): set flash.nor.base in {profile.path} to the "
                    "bank that holds the boot slots"
                )
            bank = banks[0]
            note = (
                f"the profile says the NOR is at {nor.base:#x}; this unit's U-Boot has it at "
                f"{bank.base:#x} (flinfo): using the survey's address"
            )
        # Linux's flash device starts where the flash starts: one cfi-flash node covers
        # every bank at its physical address, so offset 0 is the lowest bank. (The banks
        # need not be contiguous: QEMU virt's U-Boot sees 32 MiB of each 64 MiB chip.)
        mtd_base = min(b.base for b in banks)
        return cls(nor, lab, bank.base, bank, mtd_base, note)

    def address(self, offset: int) -> int:
        return self.base + offset

    def check_write(self, name: str, offset: int, length: int) -> None:
        """Refuse unless [offset, offset+length) of the NOR may be erased and written."""
        start, end = self.address(offset), self.address(offset + length)
        if start < self.bank.base or end > self.bank.end:
            raise _refuse(
                f"{name} ({start:#x}-{end:#x}) leaves the NOR bank this unit's U-Boot "
                f"reported ({self.bank.base:#x}-{self.bank.end:#x}): fix the slot in the profile"
            )
        protected = [s for s in self.bank.sectors_in(start, end) if s.read_only]
        if protected:
            first = protected[0]
            raise _refuse(
                f"refusing to write {name} ({start:#x}-{end:#x}): it holds {len(protected)} "
                f"sector(s) that this unit's U-Boot reports read-only (flinfo), the first at "
                f"{first.start:#x}+{first.size:#x}: U-Boot protects its own code and "
                "environment there. Move the slot into the firmware area the survey found "
                f"({self.describe_areas()})"
            )
        for part in self.nor.partitions:
            if part.read_only and offset < part.end and part.offset < offset + length:
                raise _refuse(
                    f"refusing to write {name}: it overlaps the read-only region {part.name} "
                    f"({self.address(part.offset):#x}-{self.address(part.end):#x}) of the profile"
                )
        areas = self.lab.firmware_areas()
        if self.lab.linux_mtd is None:
            raise _refuse(
                f"refusing to write {name}: the survey of this unit ({self.lab.path}) did not "
                "read the board's flash partitions, so nothing says which part of the NOR is "
                "free for firmware. Rerun the survey with --linux (it boots the board's own "
                "Linux and reads /sys/class/mtd)"
            )
        for area in areas:
            a_start, a_end = self.mtd_base + area.offset, self.mtd_base + area.end
            if a_start <= start and end <= a_end:
                return
        raise _refuse(
            f"refusing to write {name} ({start:#x}-{end:#x}): it is not inside a firmware "
            f"area the survey found ({self.describe_areas()}). Move the slot in the profile "
            "inside one of them"
        )

    def describe_areas(self) -> str:
        areas = self.lab.firmware_areas()
        if not areas:
            return "none"
        return ", ".join(
            f"{a.name} {self.mtd_base + a.offset:#x}-{self.mtd_base + a.end:#x}" for a in areas
        )
