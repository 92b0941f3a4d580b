"""Where a unit's U-Boot keeps its environment in NOR: found by its CRC, never assumed.

U-Boot does not print the environment's address. A stored copy is recognised by what
U-Boot itself checks at every boot: the first 32-bit word is the CRC-32 of the data
that follows (after a flag byte when the environment is redundant). For each
candidate sector the survey reads that word (``md.l``) and has U-Boot compute the
CRC of the rest (``crc32``: part of CONFIG_CMD_MEMORY since long before 2009, so
every vendor U-Boot has it). Both are read-only commands; a match on a 32-bit CRC
over the whole environment does not happen by chance.

Candidates, in order: the address the profile expects (``flash.nor.env_offset``),
the sectors ``flinfo`` reports read-only (U-Boot protects its own and its
environment's), then the first and last 4 MiB of each bank. The scan stops once it
found the copies the size line promised (two for a redundant environment).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from linerate.survey.flinfo import Bank

_MD_RE = re.compile(r"^\s*([0-9a-fA-F]+):\s+([0-9a-fA-F]{8})\s+([0-9a-fA-F]{8})", re.M)
_CRC_RE = re.compile(r"==>\s*([0-9a-fA-F]{8})")
#: How far into each end of a bank the scan looks (U-Boot and its environment sit
#: at one end of the boot flash on every board we know).
EDGE = 4 << 20


@dataclass(frozen=True)
class EnvCopy:
    """One stored copy of the environment, as U-Boot's own CRC check accepts it."""

    address: int
    size: int
    redundant: bool
    crc: int
    #: The flag byte of a redundant copy (1: active, 0: obsolete in U-Boot's boolean
    #: scheme for NOR; a counter in the incremental one), None for a single copy.
    flag: int | None

    @property
    def header(self) -> int:
        return 5 if self.redundant else 4


class EnvScanError(Exception):
    """U-Boot's answer to ``md`` or ``crc32`` could not be read."""


def candidates(banks: Iterable[Bank], hints: Iterable[int] = (), edge: int = EDGE) -> list[int]:
    """Sector start addresses to try, most likely first, each once."""
    banks = list(banks)
    order: list[int] = []
    seen: set[int] = set()

    def add(address: int) -> None:
        if address not in seen and any(b.base <= address < b.end for b in banks):
            seen.add(address)
            order.append(address)

    for h in hints:
        add(h)
    for bank in banks:
        for s in bank.sectors:
            if s.read_only:
                add(s.start)
    for bank in banks:
        for s in bank.sectors:
            if s.start < bank.base + edge or s.start >= bank.end - edge:
                add(s.start)
    return order


def parse_md_words(text: str) -> tuple[int, int]:
    """The first two 32-bit words of ``md.l ADDR 2`` as U-Boot printed them."""
    m = _MD_RE.search(text.replace("\r", ""))
    if not m:
        raise EnvScanError(f"no memory dump in U-Boot's answer: {text.strip()[:120]!r}")
    return int(m.group(2), 16), int(m.group(3), 16)


def parse_crc32(text: str) -> int:
    m = _CRC_RE.search(text)
    if not m:
        raise EnvScanError(f"no CRC in U-Boot's answer: {text.strip()[:120]!r}")
    return int(m.group(1), 16)


def scan(
    uboot: Callable[[str], str],
    banks: Iterable[Bank],
    env_size: int,
    redundant: bool | None,
    hints: Iterable[int] = (),
    little_endian: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[EnvCopy]:
    """Every stored copy of the environment among the candidates (see the module doc).

    ``uboot`` runs one command at U-Boot's prompt and returns its output. ``md.l``
    prints words in the CPU's byte order; U-Boot stores the CRC in it too, and the
    flag byte is the fifth byte in memory (the low byte of the second word on a
    little-endian CPU)."""
    kinds = [redundant] if redundant is not None else [False, True]
    found: list[EnvCopy] = []
    todo = candidates(banks, hints)
    for i, address in enumerate(todo):
        if progress is not None:
            progress(i, len(todo))
        stored, second = parse_md_words(uboot(f"md.l {address:x} 2"))
        if stored in (0xFFFFFFFF, 0x00000000):
            continue  # erased or zeroed: no environment starts here
        for red in kinds:
            header = 5 if red else 4
            crc = parse_crc32(uboot(f"crc32 {address + header:x} {env_size - header:x}"))
            if crc != stored:
                continue
            flag = None
            if red:
                flag = second & 0xFF if little_endian else second >> 24
            found.append(EnvCopy(address, env_size, red, crc, flag))
            break
        if len(found) >= (2 if any(c.redundant for c in found) else 1):
            break
    return found
