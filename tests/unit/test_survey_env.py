"""Locating the U-Boot environment by its CRC, and the fw_env.config made from it.

The scan is fed a NOR image through a U-Boot stand-in that prints ``md.l`` and
``crc32`` exactly as U-Boot's cmd_mem.c does; the board tier runs the same scan
against the real U-Boots of both virtual boards.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from linerate.survey import envscan, fwenv
from linerate.survey.flinfo import Bank, Sector

pytestmark = pytest.mark.unit

BASE = 0xF0000000
SECTOR = 0x20000


def _bank(size: int = 0x800000, ro: range = range(0)) -> Bank:
    sectors = tuple(Sector(BASE + i * SECTOR, SECTOR, i in ro) for i in range(size // SECTOR))
    return Bank(0, BASE, size, sectors)


class FakeUBoot:
    """md.l and crc32 over a NOR image, in U-Boot's words; counts commands."""

    def __init__(self, image: bytearray) -> None:
        self.image = image
        self.commands: list[str] = []

    def __call__(self, command: str) -> str:
        self.commands.append(command)
        name, *args = command.split()
        if name == "md.l":
            addr = int(args[0], 16)
            w0, w1 = struct.unpack_from("<II", self.image, addr - BASE)
            return f"{addr:08x}: {w0:08x} {w1:08x}    ........\n"
        if name == "crc32":
            addr, length = int(args[0], 16), int(args[1], 16)
            data = bytes(self.image[addr - BASE : addr - BASE + length])
            crc = zlib.crc32(data)
            return f"CRC32 for {addr:08x} ... {addr + length - 1:08x} ==> {crc:08x}\n"
        raise AssertionError(command)


def _env(size: int, redundant: bool, flag: int = 1) -> bytes:
    data = b"bootcmd=run boot_a\x00ethaddr=02:00:00:00:00:01\x00\x00"
    header = 5 if redundant else 4
    body = data + b"\x00" * (size - header - len(data))
    crc = struct.pack("<I", zlib.crc32(body))
    return crc + (bytes([flag]) if redundant else b"") + body


def test_a_single_environment_is_found_by_its_crc():
    image = bytearray(b"\xff" * 0x800000)
    image[0x100000 : 0x100000 + SECTOR] = _env(SECTOR, False)
    uboot = FakeUBoot(image)
    copies = envscan.scan(uboot, [_bank()], SECTOR, False)
    assert copies == [envscan.EnvCopy(BASE + 0x100000, SECTOR, False, copies[0].crc, None)]


def test_a_redundant_environment_gives_both_copies_and_flags():
    image = bytearray(b"\xff" * 0x800000)
    image[0x100000 : 0x100000 + SECTOR] = _env(SECTOR, True, flag=0)
    image[0x120000 : 0x120000 + SECTOR] = _env(SECTOR, True, flag=1)
    uboot = FakeUBoot(image)
    copies = envscan.scan(uboot, [_bank()], SECTOR, None)
    assert [(c.address - BASE, c.redundant, c.flag) for c in copies] == [
        (0x100000, True, 0),
        (0x120000, True, 1),
    ]


def test_hints_and_read_only_sectors_come_first_and_the_scan_stops_early():
    image = bytearray(b"\xff" * 0x800000)
    image[0x700000 : 0x700000 + SECTOR] = _env(SECTOR, False)
    bank = _bank(ro=range(0, 8))
    order = envscan.candidates([bank], hints=[BASE + 0x700000])
    assert order[0] == BASE + 0x700000
    assert order[1:9] == [BASE + i * SECTOR for i in range(8)]
    uboot = FakeUBoot(image)
    envscan.scan(uboot, [bank], SECTOR, False, hints=[BASE + 0x700000])
    assert uboot.commands == [f"md.l {BASE + 0x700000:x} 2", f"crc32 {BASE + 0x700004:x} 1fffc"]


def test_a_damaged_copy_is_not_an_environment():
    image = bytearray(b"\xff" * 0x800000)
    image[0x100000 : 0x100000 + SECTOR] = _env(SECTOR, False)
    image[0x100010] ^= 0x01
    assert envscan.scan(FakeUBoot(image), [_bank()], SECTOR, False) == []


def test_an_unreadable_answer_is_an_error():
    with pytest.raises(envscan.EnvScanError, match="no memory dump"):
        envscan.scan(lambda c: "Unknown command 'md.l'", [_bank()], SECTOR, False)


def test_mtdparts_with_and_without_offsets():
    _, parts = fwenv.parse_mtdparts(
        "mtdparts=0.flash:64m@0(bios)ro,256k@64m(uboot-env),15m@65m(uimage-a),-(rest)"
    )
    assert [(p.index, p.name, p.offset, p.size, p.read_only) for p in parts] == [
        (0, "bios", 0, 64 << 20, True),
        (1, "uboot-env", 64 << 20, 256 << 10, False),
        (2, "uimage-a", 65 << 20, 15 << 20, False),
        (3, "rest", 80 << 20, None, False),
    ]
    _, parts = fwenv.parse_mtdparts("mtdparts=e8000000.nor:16m(vendor)ro,0x1000000(a)")
    assert [(p.offset, p.size) for p in parts] == [(0, 16 << 20), (16 << 20, 16 << 20)]


def test_fw_env_config_for_a_redundant_environment_in_a_read_only_vendor_partition():
    copies = [
        envscan.EnvCopy(BASE + 0x100000, SECTOR, True, 1, 1),
        envscan.EnvCopy(BASE + 0x120000, SECTOR, True, 2, 0),
    ]
    text = fwenv.render(
        copies, [_bank()], "mtdparts=e8000000.nor:16m(vendor)ro,16m(uimage-a)", "test"
    )
    assert fwenv.device_lines(text) == [
        ("/dev/mtd0", str(0x100000), str(SECTOR), str(SECTOR)),
        ("/dev/mtd0", str(0x120000), str(SECTOR), str(SECTOR)),
    ]


def test_an_environment_outside_every_partition_is_refused():
    copies = [envscan.EnvCopy(BASE + 0x7E0000, SECTOR, False, 1, None)]
    with pytest.raises(fwenv.FwEnvError, match="none of the partitions"):
        fwenv.render(copies, [_bank()], "mtdparts=x:1m(a),1m(b)", "test")
