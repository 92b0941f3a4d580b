"""First contact: the survey of this unit (read-only), the lab file the flasher trusts."""

from __future__ import annotations

from linerate.survey.lab import load_lab

#: What the survey must find on the virtual boards: vexpress runs the stock parser of
#: U-Boot 2011.12 (no hush), virt Debian's U-Boot 2023.01.
VIRTUAL_HUSH = {"virt": True, "vexpress": False}


def test_the_survey_reads_the_bootloader(board_lab, board_profile):
    lab = board_lab
    assert lab.board == board_profile.name
    assert lab.banner.startswith("U-Boot "), lab.banner
    assert {"flinfo", "printenv", "cp", "bootm", "crc32"} <= set(lab.commands)
    for port in board_profile.ports:
        assert port.mac_env in lab.macs, f"{port.mac_env} is not set on this unit"
    if board_profile.virtual:
        assert lab.hush is VIRTUAL_HUSH[board_profile.name]
        nor = board_profile.flash.nor
        assert (lab.env_size, lab.env_redundant) == (nor.env_size, nor.env_redundant)
        # Located by its CRC, where the profile (measured on the board) says it is.
        copies = 2 if nor.env_redundant else 1
        want = [nor.base + nor.env_offset + i * nor.env_size for i in range(copies)]
        assert [c.address for c in lab.env_copies] == want
        assert lab.fw_env_config is not None


def test_the_survey_finds_the_nor_and_its_protection(board_lab, board_profile):
    nor = board_profile.flash.nor
    if nor is None:
        return
    bank = board_lab.bank_at(nor.base)
    assert bank is not None, f"no surveyed bank holds {nor.base:#x}: {board_lab.nor_banks}"
    for part in nor.partitions:
        if part.slot:
            start = nor.base + part.offset
            assert not any(s.read_only for s in bank.sectors_in(start, start + part.size))
    areas = {a.name for a in board_lab.firmware_areas()}
    assert areas, "the board's Linux reported no firmware area"
    if board_profile.virtual:
        assert areas == {"uimage-a", "uimage-b"}
        protected = {p.name for p in board_lab.linux_mtd or () if not p.firmware_area}
        assert protected == {"bios", "uboot-env"}


def test_the_lab_file_round_trips(board_lab):
    assert board_lab.path is not None and board_lab.path.is_file()
    again = load_lab(board_lab.path)
    assert again.nor_banks == board_lab.nor_banks
    assert again.linux_mtd == board_lab.linux_mtd
    assert again.macs == board_lab.macs
