"""The flasher writes only what the unit's survey measured: refused before any
command is sent, with the message a user sees."""

from __future__ import annotations

import dataclasses

import pytest
from test_survey_lab import flinfo_text

from linerate.board.profile import load_profile
from linerate.flash.errors import ReadOnlyRegionError
from linerate.flash.guard import SurveyedNor, require_lab
from linerate.survey.flinfo import parse_flinfo
from linerate.survey.lab import Lab, MtdPartition

VIRT = load_profile("virt")


def virt_lab(ro: set[int], mtd: tuple[MtdPartition, ...] | None) -> Lab:
    """A virtual board as its survey saw it: U-Boot's CFI driver sees 32 MiB of each
    64 MiB pflash (U-Boot's own 7 sectors and its environment's 2 read-only), while
    Linux's 0.flash spans both chips from 0."""
    text = flinfo_text(0x0, 256, 0x20000, set(range(7)), False) + flinfo_text(
        0x04000000, 256, 0x20000, ro, True
    ).replace("Bank # 1", "Bank # 2")
    return Lab(
        board="virt",
        unit="02:4c:52:00:00:01",
        surveyed="2026-12-01T00:00:00Z",
        port="virtual",
        banner="U-Boot 2023.01",
        hush=True,
        commands=("bootm", "cp", "erase", "flinfo", "protect"),
        nand_features={},
        env_size=0x40000,
        env_redundant=False,
        macs={},
        bootcmd=None,
        bdinfo={},
        nor_banks=tuple(parse_flinfo(text)),
        linux_mtd=mtd,
    )


MTD = (
    MtdPartition("mtd0", "bios", 0, 64 << 20, False),
    MtdPartition("mtd1", "uboot-env", 64 << 20, 0x40000, True),
    MtdPartition("mtd2", "uimage-a", 65 << 20, 15 << 20, True),
    MtdPartition("mtd3", "uimage-b", 81 << 20, 15 << 20, True),
)


def test_no_survey_no_write():
    with pytest.raises(ReadOnlyRegionError) as err:
        require_lab(VIRT, None, "/dev/ttyUSB0")
    message = str(err.value)
    assert "no survey of this virt unit" in message
    assert "linerate survey --board virt --port /dev/ttyUSB0 --linux" in message
    assert "board state: nothing done" in message


def test_a_lab_of_another_board_is_refused():
    lab = dataclasses.replace(virt_lab({0, 1}, MTD), board="mirabox")
    with pytest.raises(ReadOnlyRegionError, match="is of a mirabox board, not virt"):
        require_lab(VIRT, lab)


def test_the_surveyed_slots_may_be_written():
    nor = SurveyedNor.of(VIRT, virt_lab({0, 1}, MTD))
    assert nor.base == 0x04000000 and nor.mtd_base == 0
    for which in ("a", "b"):
        part = VIRT.flash.nor.slot(which)
        nor.check_write(part.name, part.offset, part.size)


def test_a_write_over_a_protected_uboot_sector_is_refused():
    # This unit's U-Boot protects sector 8 of the NOR bank: it lies inside slot A.
    nor = SurveyedNor.of(VIRT, virt_lab({0, 1, 8}, MTD))
    part = VIRT.flash.nor.slot("a")
    with pytest.raises(ReadOnlyRegionError) as err:
        nor.check_write(part.name, part.offset, part.size)
    message = str(err.value)
    assert "refusing to write uimage-a (0x4100000-0x5000000)" in message
    assert "1 sector(s) that this unit's U-Boot reports read-only (flinfo)" in message
    assert "the first at 0x4100000+0x20000" in message
    assert "board state: nothing done: the board is untouched" in message


def test_without_the_board_linux_partitions_nothing_is_written():
    nor = SurveyedNor.of(VIRT, virt_lab({0, 1}, None))
    part = VIRT.flash.nor.slot("a")
    with pytest.raises(ReadOnlyRegionError, match="Rerun the survey with --linux"):
        nor.check_write(part.name, part.offset, part.size)


def test_a_slot_outside_the_firmware_areas_is_refused():
    mtd = (*MTD[:2], MtdPartition("mtd2", "uimage-a", 66 << 20, 14 << 20, True), MTD[3])
    nor = SurveyedNor.of(VIRT, virt_lab({0, 1}, mtd))
    part = VIRT.flash.nor.slot("a")
    with pytest.raises(ReadOnlyRegionError, match="not inside a firmware area the survey found"):
        nor.check_write(part.name, part.offset, part.size)


@pytest.mark.parametrize("surveyed", [0xF0000000, 0xE8000000])
def test_the_nor_base_comes_from_the_survey(surveyed):
    """AX3: the profile's base (0xf0000000, unverified) against what the unit's U-Boot
    reports for its one bank: the flasher uses U-Boot's address and says when it differs."""
    ax3 = load_profile("openblocks-ax3")
    lab = dataclasses.replace(
        virt_lab(set(), None),
        board="openblocks-ax3",
        nor_banks=tuple(parse_flinfo(flinfo_text(surveyed, 1024, 0x20000, {0, 1}, False))),
    )
    nor = SurveyedNor.of(ax3, lab)
    assert nor.base == surveyed
    if surveyed == ax3.flash.nor.base:
        assert nor.note == ""
    else:
        assert f"this unit's U-Boot has it at {surveyed:#x} (flinfo)" in nor.note
    assert nor.address(ax3.flash.nor.slot("a").offset) == surveyed + 0x01000000
