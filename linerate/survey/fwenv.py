"""``fw_env.config`` for one unit: where Linux finds the environment the survey located.

fw_printenv / fw_setenv (libubootenv) read ``/dev/mtdN OFFSET ENV_SIZE SECTOR_SIZE``
per copy (two lines for a redundant environment). The survey gives U-Boot's
addresses of the copies (linerate.survey.envscan); this module turns them into
the MTD partition and offset the appliance's kernel sees, from the ``mtdparts=``
it boots with. Linux numbers the NOR from the lowest bank U-Boot reported (one MTD
device over every bank, as physmap does), and the NOR is the board's only MTD device
(/dev/mtd0 is its first partition).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from linerate.errors import LinerateError
from linerate.survey.envscan import EnvCopy
from linerate.survey.flinfo import Bank

_SIZE_RE = re.compile(r"^(0[xX][0-9a-fA-F]+|\d+)([kKmMgG]?)$")
_NUM = r"[0-9a-fA-FxXkKmMgG]+"
_PART_RE = re.compile(rf"^(-|{_NUM})(?:@({_NUM}))?(?:\(([^)]*)\))?(ro)?$")
_MUL = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


class FwEnvError(LinerateError):
    """The located environment cannot be described to Linux."""


@dataclass(frozen=True)
class MtdPart:
    index: int
    name: str
    offset: int
    size: int | None  # None: "-", the rest of the device
    read_only: bool

    def holds(self, offset: int, length: int) -> bool:
        end = None if self.size is None else self.offset + self.size
        return self.offset <= offset and (end is None or offset + length <= end)


def _size(text: str) -> int:
    m = _SIZE_RE.match(text)
    if not m:
        raise FwEnvError(f"mtdparts: {text!r} is not a size")
    return int(m.group(1), 0) * _MUL[m.group(2).lower()]


def find_mtdparts(texts: Iterable[str]) -> str | None:
    """The first ``mtdparts=...`` word in any of ``texts`` (kernel command lines)."""
    for text in texts:
        for word in text.split():
            if word.startswith("mtdparts="):
                return word
    return None


def parse_mtdparts(word: str) -> tuple[str, list[MtdPart]]:
    """``mtdparts=ID:SIZE[@OFFSET](NAME)[ro],...`` (the first device only)."""
    body = word.removeprefix("mtdparts=").split(";")[0]
    mtd_id, sep, spec = body.partition(":")
    if not sep or not spec:
        raise FwEnvError(f"{word!r} is not a mtdparts= definition")
    parts: list[MtdPart] = []
    offset = 0
    for i, item in enumerate(spec.split(",")):
        m = _PART_RE.match(item)
        if not m:
            raise FwEnvError(f"mtdparts: cannot read the partition {item!r}")
        size = None if m.group(1) == "-" else _size(m.group(1))
        if m.group(2):
            offset = _size(m.group(2))
        parts.append(MtdPart(i, m.group(3) or f"part{i}", offset, size, bool(m.group(4))))
        if size is None:
            break
        offset += size
    return mtd_id, parts


def sector_size(banks: Iterable[Bank], copy: EnvCopy) -> int:
    """Erase size for fw_setenv: the whole sectors the copy occupies, as flinfo lists them."""
    for bank in banks:
        if bank.base <= copy.address < bank.end:
            covered = bank.sectors_in(copy.address, copy.address + copy.size)
            return sum(s.size for s in covered)
    raise FwEnvError(f"the environment at {copy.address:#x} is in no surveyed bank")


def render(
    copies: list[EnvCopy],
    banks: list[Bank],
    mtdparts: str,
    source: str,
) -> str:
    """The text of fw_env.config for these copies (ordered by address)."""
    if not copies:
        raise FwEnvError("no environment copy was located: nothing to describe")
    if not banks:
        raise FwEnvError("no NOR bank was surveyed")
    mtd_base = min(b.base for b in banks)
    mtd_id, parts = parse_mtdparts(mtdparts)
    lines = [
        "# fw_printenv / fw_setenv (libubootenv): this unit's U-Boot environment, located by",
        "# `linerate survey` from the CRC U-Boot itself checks,",
        f"# on {source}.",
        f"# MTD numbering from {mtdparts.split()[0]}",
        f"# (the NOR is the only MTD device; Linux offset 0 is U-Boot's {mtd_base:#010x}).",
        "# Device     Offset      Env. size   Sector size",
    ]
    for copy in sorted(copies, key=lambda c: c.address):
        offset = copy.address - mtd_base
        part = next((p for p in parts if p.holds(offset, copy.size)), None)
        if part is None:
            raise FwEnvError(
                f"the environment at U-Boot address {copy.address:#x} (offset {offset:#x} "
                f"of {mtd_id}) is in none of the partitions of {mtdparts}: give it one "
                "(fw_setenv needs it writable)"
            )
        sector = sector_size(banks, copy)
        lines.append(
            f"/dev/mtd{part.index:<5d} {offset - part.offset:#010x}  {copy.size:#010x}  "
            f"{sector:#010x}"
        )
    return "\n".join(lines) + "\n"


def device_lines(text: str) -> list[tuple[str, ...]]:
    """The non-comment lines of a fw_env.config, split into fields (for comparisons)."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(tuple(str(int(f, 0)) if f.startswith("0x") else f for f in line.split()))
    return out
