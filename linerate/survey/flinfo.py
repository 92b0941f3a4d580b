"""U-Boot's ``flinfo`` output as data: banks, their sectors, which are read-only.

U-Boot prints each bank as (cfi_flash.c, every era)::

    Bank # 1: CFI conformant flash (16 x 16)  Size: 64 MB in 256 Sectors
      ...
      Sector Start Addresses:
      40000000   RO   40040000   RO   40080000        ...

with ``E`` after an erased sector's address when CONFIG_SYS_FLASH_EMPTY_INFO is set.
A sector's size is the distance to the next start (the last one: to the bank's end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from linerate.errors import LinerateError

_BANK_RE = re.compile(r"^Bank #\s*(\d+):(.*)$", re.M)
_SIZE_RE = re.compile(r"Size:\s*(\d+)\s*([kKMG]B)\s+in\s+(\d+)\s+Sectors")
_SECTOR_RE = re.compile(r"\b([0-9A-Fa-f]{8})\b(\s+E\b)?(\s+RO\b)?")
_UNITS = {"kB": 1 << 10, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


class FlinfoError(LinerateError):
    """``flinfo`` printed something this parser does not understand."""


@dataclass(frozen=True)
class Sector:
    start: int
    size: int
    read_only: bool

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class Bank:
    number: int
    base: int
    size: int
    sectors: tuple[Sector, ...]
    description: str = ""

    @property
    def end(self) -> int:
        return self.base + self.size

    def sectors_in(self, start: int, end: int) -> list[Sector]:
        """The sectors that overlap [start, end)."""
        return [s for s in self.sectors if s.start < end and start < s.end]

    def sectors_count(self, start: int, length: int) -> int:
        """How many sectors an erase of ``length`` bytes from ``start`` touches."""
        return len(self.sectors_in(start, start + length))


def parse_flinfo(text: str) -> list[Bank]:
    """Every bank ``flinfo`` listed (an empty list when it lists none)."""
    text = text.replace("\r", "")
    heads = list(_BANK_RE.finditer(text))
    banks: list[Bank] = []
    for i, head in enumerate(heads):
        body = text[head.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        first_line = head.group(2).strip()
        if "missing or unknown" in first_line.lower():
            continue
        size_m = _SIZE_RE.search(first_line + "\n" + body)
        if not size_m:
            raise FlinfoError(f"flinfo bank {head.group(1)}: no 'Size: N MB in N Sectors'")
        size = int(size_m.group(1)) * _UNITS[size_m.group(2)]
        count = int(size_m.group(3))
        _, sep, table = body.partition("Sector Start Addresses:")
        if not sep:
            raise FlinfoError(f"flinfo bank {head.group(1)}: no sector table")
        starts = [(int(m.group(1), 16), bool(m.group(3))) for m in _SECTOR_RE.finditer(table)]
        if len(starts) != count:
            raise FlinfoError(
                f"flinfo bank {head.group(1)}: {len(starts)} sector addresses, "
                f"{count} announced (output cut short?)"
            )
        base = starts[0][0]
        sectors = []
        for j, (start, ro) in enumerate(starts):
            nxt = starts[j + 1][0] if j + 1 < len(starts) else base + size
            if nxt <= start:
                raise FlinfoError(f"flinfo bank {head.group(1)}: sectors not ascending")
            sectors.append(Sector(start, nxt - start, ro))
        banks.append(Bank(int(head.group(1)), base, size, tuple(sectors), first_line))
    return banks
