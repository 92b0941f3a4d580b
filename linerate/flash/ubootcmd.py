"""U-Boot commands the flasher needs, for U-Boot with or without the hush shell.

With hush (``uboot.hush: true`` in the profile) every command's exit status is
checked through ``$?`` (the console driver's ``check``). An old U-Boot without
hush has no ``$?``: success is then read from the command's output. Single
quotes keep ``${...}`` and ``;`` literal in both parsers.
"""

from __future__ import annotations

import re

from linerate.console import ConsoleError, UBootDriver
from linerate.console.uboot import Watch
from linerate.flash.errors import FlashError
from linerate.flash.progress import Progress

_CRC_RE = re.compile(r"==>\s*([0-9a-fA-F]{8})")


class UBootCommands:
    def __init__(self, uboot: UBootDriver, hush: bool) -> None:
        self.uboot = uboot
        self.hush = hush

    def run_ok(self, command: str, timeout: float, ok: str, watch: Watch | None = None) -> str:
        """Run ``command``; it must succeed (``$?`` with hush) and print ``ok`` (a regex)."""
        try:
            if self.hush:
                out = self.uboot.check(command, timeout=timeout, watch=watch)
            else:
                out = self.uboot.send_command(command, timeout=timeout, watch=watch)
        except ConsoleError as exc:
            raise FlashError(f"{command!r} failed: {exc}") from exc
        if not re.search(ok, out):
            raise FlashError(f"{command!r} did not report success ({ok!r}): {out.strip()!r}")
        return out

    def crc32(
        self, address: int, length: int, timeout: float = 120.0, watch: Watch | None = None
    ) -> int:
        out = self.run_ok(f"crc32 {address:#x} {length:#x}", timeout, r"==>", watch)
        m = _CRC_RE.search(out)
        if not m:
            raise FlashError(f"cannot read the CRC in {out!r}")
        return int(m.group(1), 16)

    def setenv(self, name: str, value: str) -> None:
        if "'" in value:
            raise FlashError(f"value of {name} holds a single quote: not supported")
        command = f"setenv {name} '{value}'" if value else f"setenv {name}"
        self.run_ok(command, 10.0, r"")

    def saveenv(self, timeout: float = 60.0) -> None:
        self.run_ok("saveenv", timeout, r"OK|done")

    def printenv(self) -> dict[str, str]:
        return self.uboot.printenv()


def erase_watch(progress: Progress, sectors: int) -> Watch:
    """U-Boot's ``erase`` prints a dot per sector erased: a bar from them."""
    return lambda out: progress.tick(
        out.count(".") / max(sectors, 1), f"{out.count('.')}/{sectors}"
    )


def copy_watch(progress: Progress) -> Watch:
    """``cp.b`` to flash: U-Boot's countdown ("Copy to Flash... 9....8....") where it
    prints one (CONFIG_FLASH_SHOW_PROGRESS), else the elapsed time alone."""

    def watch(out: str) -> None:
        digits = re.findall(r"(\d)\.", out.rpartition("Copy to Flash")[2])
        progress.tick((10 - int(digits[-1])) / 10 if digits else None)

    return watch


def elapsed_watch(progress: Progress) -> Watch:
    return lambda _out: progress.tick()
