"""The flasher on the board: NOR A/B flash and boot, and what happens when things fail.

On the virtual board everything runs for real (U-Boot, its CFI driver, the
flasher's TFTP server reached through QEMU's user network). The SSD strategy is
run against a file on the board (no disk on the virtual board).
"""

from __future__ import annotations

import os
import time
import zlib

import pytest
from board_helpers import assert_booted_from_ram, booted_slot

from linerate.flash.errors import FlashError, ReadOnlyRegionError
from linerate.flash.flasher import flash
from linerate.flash.nor import NorFlasher, active_slot
from linerate.flash.progress import Progress
from linerate.flash.ram import Loaded, RamLoader
from linerate.flash.ssd import SsdFlasher


@pytest.fixture
def nor(board_profile):
    if board_profile.flash.nor is None:
        pytest.skip(f"{board_profile.name} has no NOR flash")
    return board_profile.flash.nor


def _slots(control, board_profile):
    var = board_profile.uboot.slot_variable
    current = active_slot(control.uboot.printenv(), var)
    return current, ("b" if current == "a" else "a")


def _write_timings(console_log, progress, total):
    lines = [f"{s:8.2f} s  {name}" for name, s in progress.timings]
    lines.append(f"{total:8.2f} s  total")
    (console_log.parent / "timings.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def test_flash_nor_then_boot_from_the_new_slot(
    board, at_uboot, board_profile, nor, console_log, board_lab
):
    ub = at_uboot.uboot
    image = board.nor_image()
    data = image.read_bytes()
    current, target = _slots(at_uboot, board_profile)
    part = nor.slot(target)
    address = nor.address(part)
    if board_profile.virtual:
        # Both slots start with the same image: blank the target so that booting it
        # proves the flasher wrote it.
        ub.check(f"erase {address:#x} +{part.size:#x}", timeout=120.0)
        assert ub.crc32(address, len(data)) != zlib.crc32(data)
    progress = Progress(tty=False)
    t0 = time.monotonic()
    result = flash(at_uboot, image, "nor", progress, lab=board_lab)
    _write_timings(console_log, progress, time.monotonic() - t0)
    assert (result.slot, result.previous_slot) == (target, current)
    assert ub.getenv(board_profile.uboot.slot_variable) == target
    # Without hush (the survey's finding) the flasher writes the slot order itself.
    bootcmd = (
        board_profile.uboot.bootcmd if board_lab.hush else f"run boot_{target}; run boot_{current}"
    )
    assert ub.getenv("bootcmd") == bootcmd
    assert ub.crc32(address, len(data)) == zlib.crc32(data)
    log = at_uboot.boot("boot")
    assert booted_slot(log) == target, "the new slot did not boot"
    assert_booted_from_ram(log, board_lab)
    assert at_uboot.shell.check("echo booted") == "booted"


def test_corrupt_image_in_ram_erases_nothing(board, at_uboot, board_profile, nor, board_lab):
    ub = at_uboot.uboot
    image = board.nor_image()
    size = image.stat().st_size
    current, target = _slots(at_uboot, board_profile)
    target_part = nor.slot(target)
    before = ub.crc32(nor.address(target_part), size)

    def corrupt(loaded: Loaded) -> None:
        ub.check(f"mw.l {loaded.address:#x} 0xdeadbeef")

    with pytest.raises(FlashError, match="CRC mismatch in RAM") as info:
        flash(at_uboot, image, "nor", Progress(tty=False), after_load=corrupt, lab=board_lab)
    assert "nothing was erased" in str(info.value)
    assert "to resume" in str(info.value)
    assert ub.crc32(nor.address(target_part), size) == before, "the target slot changed"
    assert active_slot(ub.printenv(), board_profile.uboot.slot_variable) == current
    at_uboot.reset_to_uboot()
    log = at_uboot.boot("boot")
    assert booted_slot(log) == current


class Interrupted(Exception):
    pass


def test_interrupted_flash_boots_the_old_slot_and_resumes(
    board, at_uboot, board_profile, nor, board_lab
):
    """Power lost after the erase (before the copy): the old slot boots; a rerun resumes."""
    image = board.nor_image()
    current, target = _slots(at_uboot, board_profile)
    progress = Progress(tty=False)
    loader = RamLoader(at_uboot.uboot, board_profile, progress)
    flasher = NorFlasher(board_profile, at_uboot.uboot, progress, loader, board_lab)

    def power_loss(_part: object) -> None:
        raise Interrupted

    flasher.before_write = power_loss
    with pytest.raises(Interrupted):
        flasher.flash(image)
    at_uboot.reset_to_uboot()
    assert active_slot(at_uboot.uboot.printenv(), board_profile.uboot.slot_variable) == current
    log = at_uboot.boot("boot")
    assert booted_slot(log) == current
    # Resume: the same flash again, from U-Boot.
    result = flash(at_uboot, image, "nor", Progress(tty=False), lab=board_lab)
    assert result.slot == target
    log = at_uboot.boot("boot")
    assert booted_slot(log) == target


def test_bootloader_region_is_never_written(at_uboot, board_profile, nor, board_lab):
    ub = at_uboot.uboot
    progress = Progress(tty=False)
    flasher = NorFlasher(
        board_profile, ub, progress, RamLoader(ub, board_profile, progress), board_lab
    )
    for part in (p for p in nor.partitions if p.read_only):
        sent_before = ub.port.transcript.received
        fake = Loaded(board_profile.uboot.load_address, 0x1000, 0, "none", 0.0)
        with pytest.raises(ReadOnlyRegionError, match="read-only"):
            flasher.write_verified(part, fake)
        assert ub.port.transcript.received == sent_before, "a command reached the board"
    assert ub.send_command("echo still-here").strip() == "still-here"


def test_ymodem_fallback_when_tftp_cannot_start(at_uboot, board_profile, tmp_path):
    """TFTP cannot bind (an address this host does not have): ymodem carries a small file."""
    from dataclasses import replace

    path = tmp_path / "small.bin"
    path.write_bytes(os.urandom(5000))
    bad = replace(board_profile.tftp, bind="192.0.2.1")  # TEST-NET-1: never ours
    progress = Progress(tty=False)
    loader = RamLoader(at_uboot.uboot, board_profile, progress, tftp=bad)
    t0 = time.monotonic()
    loaded = loader.load(path, board_profile.uboot.load_address)
    seconds = time.monotonic() - t0
    assert loaded.transport == "ymodem"
    assert loaded.crc == zlib.crc32(path.read_bytes())
    print(f"ymodem: {loaded.size} bytes in {seconds:.1f} s")


def test_ssd_strategy_writes_and_verifies(board, at_shell, board_profile, tmp_path):
    """The SSD strategy end to end, into a file on the board (the virtual board has no
    disk; on an AX3 run with --port it writes the profile's device: see docs/boards.md)."""
    if not board_profile.virtual:
        pytest.skip("writes the real SSD: run linerate flash --medium ssd by hand")
    target = "/tmp/ssd-target.img"
    at_shell.shell.check(f"rm -f {target}; touch {target}")
    path = tmp_path / "disk.wic"
    path.write_bytes(os.urandom(3 << 20))
    progress = Progress(tty=False)
    ssd = SsdFlasher(board_profile, at_shell.shell, progress, device=target, allow_file=True)
    result = ssd.flash(path)
    assert result.size == 3 << 20
    out = at_shell.shell.check(f"wc -c < {target}")
    assert int(out.strip()) == 3 << 20
    at_shell.shell.check(f"rm -f {target}")


def test_ssd_strategy_streams_a_compressed_image(board, at_shell, board_profile, tmp_path):
    """A .wic.gz goes tftp | gunzip | dd on the board (an image larger than the board's
    RAM works): the device then holds exactly the uncompressed content (SHA-256)."""
    import gzip

    if not board_profile.virtual:
        pytest.skip("writes the real SSD: run linerate flash --medium ssd by hand")
    target = "/tmp/ssd-target.img"
    at_shell.shell.check(f"rm -f {target}; touch {target}")
    content = os.urandom(2 << 20) + bytes(6 << 20)  # random, then what compresses
    path = tmp_path / "disk.wic.gz"
    path.write_bytes(gzip.compress(content, compresslevel=6))
    assert path.stat().st_size < len(content) // 2
    progress = Progress(tty=False)
    ssd = SsdFlasher(board_profile, at_shell.shell, progress, device=target, allow_file=True)
    result = ssd.flash(path)
    assert result.size == len(content)
    assert int(at_shell.shell.check(f"wc -c < {target}").strip()) == len(content)
    at_shell.shell.check(f"rm -f {target}")


def test_flash_without_hush_reads_success_from_the_output(
    board, at_uboot, board_profile, nor, board_lab
):
    """The path for an old U-Boot without hush (no $?, no if): success is read from each
    command's output and bootcmd lists the slots in order. Runs on any U-Boot."""
    from dataclasses import replace

    profile = replace(board_profile, uboot=replace(board_profile.uboot, hush=False))
    control = at_uboot
    control.profile = profile
    try:
        current, target = _slots(control, profile)
        result = flash(control, board.nor_image(), "nor", Progress(tty=False), lab=board_lab)
        assert result.slot == target
        env = control.uboot.printenv()
        assert env["bootcmd"] == f"run boot_{target}; run boot_{current}"
        log = control.boot("boot")
        assert booted_slot(log) == target
    finally:
        control.profile = board_profile


def test_no_survey_no_write(board, at_uboot, board_profile, nor):
    """Without this unit's lab file the flasher refuses before sending anything."""
    ub = at_uboot.uboot
    received = ub.port.transcript.received
    with pytest.raises(ReadOnlyRegionError) as info:
        flash(at_uboot, board.nor_image(), "nor", Progress(tty=False), lab=None, port="DEV")
    message = str(info.value)
    print(message)
    assert f"no survey of this {board_profile.name} unit" in message
    assert f"linerate survey --board {board_profile.name} --port DEV --linux" in message
    assert ub.port.transcript.received == received, "a command reached the board"


def test_a_write_over_a_protected_sector_is_refused(board, at_uboot, board_profile, nor, board_lab):
    """A unit whose U-Boot protects a sector inside the target slot: refused, untouched."""
    import dataclasses

    current, target = _slots(at_uboot, board_profile)
    start = nor.address(nor.slot(target))
    bank = board_lab.bank_at(start)
    assert bank is not None
    sectors = tuple(
        dataclasses.replace(s, read_only=True) if s.start == start else s for s in bank.sectors
    )
    banks = tuple(
        dataclasses.replace(b, sectors=sectors) if b is bank else b for b in board_lab.nor_banks
    )
    protected = dataclasses.replace(board_lab, nor_banks=banks)
    ub = at_uboot.uboot
    before = ub.crc32(start, 0x1000)
    received = ub.port.transcript.received
    with pytest.raises(ReadOnlyRegionError) as info:
        flash(at_uboot, board.nor_image(), "nor", Progress(tty=False), lab=protected)
    message = str(info.value)
    print(message)
    assert "reports read-only (flinfo)" in message and f"the first at {start:#x}" in message
    assert "nothing done: the board is untouched" in message
    assert ub.port.transcript.received == received, "a command reached the board"
    assert ub.crc32(start, 0x1000) == before
    assert active_slot(ub.printenv(), board_profile.uboot.slot_variable) == current
