"""NOR flash through U-Boot: write the inactive A/B slot, verify, then switch.

Order (each step only if the one before succeeded):

1. the target range is checked against the unit's survey (:mod:`linerate.flash.guard`:
   U-Boot's address of the flash, every sector flinfo reports read-only, the firmware
   areas the board's Linux reported) and every read-only region of the profile
   (refused before any command is sent: the bootloader is never written);
2. the image goes to RAM and its CRC there must match the file's (nothing erased yet);
3. ``protect off`` + ``erase`` of the slot's range, ``cp.b`` RAM -> flash;
4. U-Boot's ``crc32`` of the flash range must match again;
5. only then ``bootslot`` (and the A/B ``bootcmd``) change and ``saveenv`` stores them.

An interruption before step 5 leaves the environment pointing at the old slot,
which was not touched: the board boots as before, and rerunning the same command
resumes. A slot half written fails its uImage checksum at boot, so even a board
pointed at it falls back to the other slot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from linerate.board.profile import Nor, Partition, Profile
from linerate.console import UBootDriver
from linerate.flash import bootenv
from linerate.flash.errors import FlashError, ReadOnlyRegionError
from linerate.flash.guard import SurveyedNor
from linerate.flash.progress import Progress
from linerate.flash.ram import Loaded, RamLoader
from linerate.flash.ubootcmd import UBootCommands, copy_watch, elapsed_watch, erase_watch
from linerate.survey.lab import Lab

UIMAGE_MAGIC = b"\x27\x05\x19\x56"


@dataclass
class NorResult:
    slot: str
    partition: str
    address: int
    size: int
    crc: int
    previous_slot: str
    transport: str
    timings: list[tuple[str, float]] = field(default_factory=list)


def check_writable(nor: Nor, offset: int, length: int) -> None:
    """Refuse a write touching a read-only partition or leaving the flash."""
    end = offset + length
    if offset < 0 or length <= 0 or end > nor.size:
        raise ReadOnlyRegionError(
            f"range {offset:#x}+{length:#x} is outside the NOR flash (size {nor.size:#x})",
            state="nothing done",
        )
    for part in nor.partitions:
        if part.read_only and offset < part.end and part.offset < end:
            raise ReadOnlyRegionError(
                f"refusing to write {offset:#x}-{end:#x}: it overlaps the read-only region "
                f"{part.name} ({part.offset:#x}-{part.end:#x}, the bootloader and its "
                "environment); only saveenv writes there",
                state="nothing done: the board is untouched",
            )


def round_up(n: int, block: int) -> int:
    return (n + block - 1) // block * block


def active_slot(env: dict[str, str], variable: str) -> str:
    value = env.get(variable, "a").strip().lower()
    return "b" if value == "b" else "a"


class NorFlasher:
    def __init__(
        self,
        profile: Profile,
        uboot: UBootDriver,
        progress: Progress,
        loader: RamLoader,
        lab: Lab,
    ) -> None:
        if profile.flash.nor is None:
            raise FlashError(f"board {profile.name} has no NOR flash in its profile")
        self.profile = profile
        self.nor: Nor = profile.flash.nor
        self.surveyed = SurveyedNor.of(profile, lab)
        if self.surveyed.note:
            progress.say(self.surveyed.note)
        self.uboot = uboot
        #: Hush as this unit's survey probed it (the profile can only turn it off).
        self.hush = profile.uboot.hush and lab.hush
        self.cmd = UBootCommands(uboot, self.hush)
        self.progress = progress
        self.loader = loader
        #: Test hooks: after the erase, before the copy (a power loss there leaves the
        #: slot blank); after the copy, before the read-back check.
        self.before_write: Callable[[Partition], None] | None = None
        self.after_write: Callable[[Partition], None] | None = None

    def _run(self, command: str, timeout: float, ok: str) -> str:
        return self.cmd.run_ok(command, timeout, ok)

    def flash(
        self,
        image: Path,
        slot: str | None = None,
        allow_any: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> NorResult:
        """Write ``image`` to the inactive slot (or ``slot``), verify, switch to it."""
        data_head = image.open("rb").read(4)
        if data_head != UIMAGE_MAGIC and not allow_any:
            raise FlashError(
                f"{image} is not a U-Boot legacy image (no uImage magic): a boot slot holds "
                "a uImage (the build's .noruimg); nothing done",
            )
        env = self.uboot.printenv()
        var = self.profile.uboot.slot_variable
        current = active_slot(env, var)
        target = slot or ("b" if current == "a" else "a")
        part = self.nor.slot(target)
        size = image.stat().st_size
        if size > part.size:
            raise FlashError(
                f"{image.name} is {size} bytes: does not fit {part.name} ({part.size} bytes)",
                state="nothing done",
            )
        erase_len = round_up(size, self.nor.erase_block)
        check_writable(self.nor, part.offset, erase_len)
        self.surveyed.check_write(part.name, part.offset, erase_len)
        if target == current:
            self.progress.say(
                f"writing slot {target}, the one {var} selects: if this flash is interrupted "
                "the board falls back to the other slot only if that one holds an image"
            )
        self.progress.say(
            f"{self.profile.name}: active slot {current}, writing slot {target} ({part.name}, "
            f"{self.surveyed.address(part.offset):#x}, {size} bytes)"
        )
        loaded = self.loader.load(image, self.profile.uboot.load_address)
        result = self.write_verified(part, loaded)
        other = "b" if target == "a" else "a"
        # Without hush there is no `if`: the slot order is written into bootcmd itself.
        bootcmd = (
            self.profile.uboot.bootcmd if self.hush else f"run boot_{target}; run boot_{other}"
        )
        changes = {var: target, "bootcmd": bootcmd}
        profile_env = {n: self.expand(v) for n, v in self.profile.uboot.env.items()}
        for name, value in {**profile_env, **(extra_env or {})}.items():
            if env.get(name) != value:
                changes[name] = value
        bootenv.commit(
            self.cmd,
            changes,
            self.loader.restore_net(),
            self.progress,
            state_if_failed=f"slot {target} holds the new image; the environment may still "
            f"select slot {current}",
        )
        return NorResult(
            slot=target,
            partition=part.name,
            address=result,
            size=size,
            crc=loaded.crc,
            previous_slot=current,
            transport=loaded.transport,
            timings=list(self.progress.timings),
        )

    def expand(self, value: str) -> str:
        """A profile environment value with the slots' surveyed addresses filled in:
        ``@slot_a@``/``@slot_b@`` (U-Boot's address of the slot), ``@slot_a_size@``/
        ``@slot_b_size@``, ``@load@`` (the profile's RAM load address)."""
        for which in ("a", "b"):
            part = self.nor.slot(which)
            value = value.replace(f"@slot_{which}@", f"{self.surveyed.address(part.offset):#x}")
            value = value.replace(f"@slot_{which}_size@", f"{part.size:#x}")
        return value.replace("@load@", f"{self.profile.uboot.load_address:#x}")

    def write_verified(self, part: Partition, loaded: Loaded) -> int:
        """Erase ``part``'s range, copy RAM to it, read it back. Returns its address."""
        erase_len = round_up(loaded.size, self.nor.erase_block)
        check_writable(self.nor, part.offset, erase_len)
        self.surveyed.check_write(part.name, part.offset, erase_len)
        address = self.surveyed.address(part.offset)
        blocks = erase_len // self.nor.erase_block
        failed_state = (
            f"{part.name} is partly written (its uImage checksum fails, U-Boot skips it); "
            "the environment still selects the other slot: the board boots as before"
        )
        resume = "rerun the same linerate flash command"
        try:
            self.progress.phase(f"erase {part.name} {address:#x}+{erase_len:#x}")
            self._run(f"protect off {address:#x} +{erase_len:#x}", 30.0, r"(?i)protect|^\s*$")
            self.cmd.run_ok(
                f"erase {address:#x} +{erase_len:#x}",
                30.0 + blocks * 3.0,
                r"Erased",
                erase_watch(self.progress, self.surveyed.bank.sectors_count(address, erase_len)),
            )
            self.progress.done(f"{blocks} blocks")
            if self.before_write is not None:
                self.before_write(part)
            self.progress.phase(f"write {loaded.size:#x} bytes to {part.name}")
            self.cmd.run_ok(
                f"cp.b {loaded.address:#x} {address:#x} {loaded.size:#x}",
                120.0 + loaded.size / 50_000,
                r"(?i)done|copy",
                copy_watch(self.progress),
            )
            self.progress.done()
        except FlashError as exc:
            raise FlashError(str(exc), state=failed_state, resume=resume) from exc
        if self.after_write is not None:
            self.after_write(part)
        self.progress.phase(f"read back {part.name}")
        got = self.cmd.crc32(address, loaded.size, watch=elapsed_watch(self.progress))
        if got != loaded.crc:
            raise FlashError(
                f"read-back CRC of {part.name} is {got:08x}, expected {loaded.crc:08x}: the "
                "flash did not take the data (worn or protected sectors?)",
                state=failed_state,
                resume=resume + " (if it repeats: check flinfo for protected sectors)",
            )
        self.progress.done(f"{got:08x} matches")
        return address
