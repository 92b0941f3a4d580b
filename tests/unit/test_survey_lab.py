"""The survey's parsers (flinfo, the environment size line, bdinfo, /sys/class/mtd) and
the lab file: what the flasher trusts about one unit."""

from __future__ import annotations

import pytest

from linerate.survey.flinfo import FlinfoError, parse_flinfo
from linerate.survey.lab import Lab, LabError, MtdPartition, load_lab
from linerate.survey.survey import env_capacity, parse_bdinfo, parse_sysfs_mtd


def flinfo_text(base: int, sectors: int, sector_size: int, ro: set[int], empty_info: bool) -> str:
    """flinfo as cfi_flash.c's flash_print_info prints one bank (both printf variants)."""
    size_mb = sectors * sector_size >> 20
    lines = [
        "",
        f"Bank # 1: CFI conformant flash (16 x 16)  Size: {size_mb} MB in {sectors} Sectors",
        "  AMD Standard command set, Manufacturer ID: 0x00, Device ID: 0x00",
        "  Erase timeout: 16384 ms, write timeout: 1 ms",
        "",
        "  Sector Start Addresses:",
    ]
    row = ""
    for i in range(sectors):
        if i % 5 == 0:
            lines.append(row)
            row = ""
        start = base + i * sector_size
        flag = "RO" if i in ro else "  "
        row += f"  {start:08X} E {flag} " if empty_info else f"  {start:08X}   {flag} "
    lines.append(row)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("empty_info", [False, True], ids=["2009-2011", "with-E-marks"])
def test_flinfo_banks_sectors_and_protection(empty_info):
    text = flinfo_text(0xF0000000, 1024, 0x20000, {0, 1, 2, 3}, empty_info)
    (bank,) = parse_flinfo(text)
    assert (bank.number, bank.base, bank.size) == (1, 0xF0000000, 128 << 20)
    assert len(bank.sectors) == 1024 and all(s.size == 0x20000 for s in bank.sectors)
    assert [s.start for s in bank.sectors if s.read_only] == [
        0xF0000000 + i * 0x20000 for i in range(4)
    ]
    assert [s.read_only for s in bank.sectors_in(0xF0060000, 0xF00A0000)] == [True, False]


def test_two_banks_and_a_missing_one():
    text = (
        flinfo_text(0x00000000, 256, 0x40000, set(range(8)), False)
        + "\nBank # 2: missing or unknown FLASH type\n"
        + flinfo_text(0x04000000, 256, 0x20000, {0, 1}, True).replace("Bank # 1", "Bank # 3")
    )
    banks = parse_flinfo(text)
    assert [(b.number, b.base, b.size) for b in banks] == [
        (1, 0, 64 << 20),
        (3, 0x04000000, 32 << 20),
    ]


def test_a_cut_short_flinfo_is_refused():
    text = flinfo_text(0xF0000000, 1024, 0x20000, set(), False)
    with pytest.raises(FlinfoError, match="1000 sector addresses, 1024 announced"):
        parse_flinfo(text[: text.index("F7D00000")])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Environment size: 1234/262140 bytes", (0x40000, False)),
        ("Environment size: 2100/131067 bytes", (0x20000, True)),
        ("Environment size: 700/65532 bytes", (0x10000, False)),
        ("no size line", (None, None)),
    ],
)
def test_environment_capacity_and_redundancy(line, expected):
    assert env_capacity(line) == expected


def test_bdinfo_keeps_repeated_dram_banks():
    info = parse_bdinfo(
        "arch_number = 0x00000BA0\nDRAM bank   = 0x00000000\n-> start    = 0x00000000\n"
        "DRAM bank   = 0x00000001\n-> start    = 0x20000000\nbaudrate    = 115200 bps\n"
    )
    assert info["DRAM_bank"] == "0x00000000" and info["DRAM_bank'"] == "0x00000001"
    assert info["baudrate"] == "115200 bps"


def test_sysfs_mtd_partitions_and_which_are_firmware_areas():
    parts = parse_sysfs_mtd(
        "mtd0|bios|0|67108864|0x800\nmtd1|uboot-env|67108864|262144|0xc00\n"
        "mtd2|uimage-a|68157440|15728640|0xc00\ngarbage line\n"
    )
    assert [(p.name, p.writable, p.firmware_area) for p in parts] == [
        ("bios", False, False),
        ("uboot-env", True, False),
        ("uimage-a", True, True),
    ]


def _lab(tmp_path) -> Lab:
    banks = tuple(parse_flinfo(flinfo_text(0xF0000000, 1024, 0x20000, {0, 1, 2, 3}, False)))
    return Lab(
        board="openblocks-ax3",
        unit="00:0a:85:00:00:01",
        surveyed="2026-12-01T00:00:00Z",
        port="/dev/ttyUSB0",
        banner="U-Boot 2009.08 (test)",
        hush=False,
        commands=("bootm", "cp", "flinfo", "protect"),
        nand_features={},
        env_size=0x20000,
        env_redundant=True,
        macs={"ethaddr": "00:0a:85:00:00:01"},
        bootcmd="run _fl_boot",
        bdinfo={"baudrate": "115200 bps"},
        nor_banks=banks,
        linux_mtd=(MtdPartition("mtd4", "firmware", 0x00400000, 0x01000000, True),),
        linux_cmdline="console=ttyS0,115200",
    )


def test_a_lab_file_round_trips_exactly(tmp_path):
    lab = _lab(tmp_path)
    path = lab.save(tmp_path / "lab" / "ax3.yml")
    again = load_lab(path)
    assert again.nor_banks == lab.nor_banks
    assert again.linux_mtd == lab.linux_mtd
    assert (again.hush, again.env_size, again.env_redundant) == (False, 0x20000, True)
    assert "sector_size: '0x00020000'" in path.read_text()  # runs, not 1024 lines


def test_a_broken_lab_file_says_rerun_the_survey(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("version: 1\nboard: x\n")
    with pytest.raises(LabError, match="rerun linerate survey"):
        load_lab(path)
