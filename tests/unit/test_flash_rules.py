"""Flasher rules that hold without a board: read-only regions, slot choice, ymodem
framing, the SSD commands, progress output, the TFTP address overrides."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from linerate.board.profile import load_profile
from linerate.flash.errors import FlashError, ReadOnlyRegionError
from linerate.flash.flasher import default_medium, tftp_overrides
from linerate.flash.nand import check_writable as nand_writable
from linerate.flash.nor import active_slot, check_writable, round_up
from linerate.flash.progress import Progress
from linerate.flash.ssd import commands
from linerate.flash.ymodem import block0, crc16, data_block

AX3 = load_profile("openblocks-ax3")
NOR = AX3.flash.nor
MIRABOX = load_profile("mirabox")


def test_slots_are_writable():
    assert NOR is not None
    for name in ("uimage-a", "uimage-b", "spare"):
        part = NOR.partition(name)
        check_writable(NOR, part.offset, part.size)


@pytest.mark.parametrize(
    ("offset", "length"),
    [
        (0x00000000, 0x1000),  # the bootloader itself (the BootROM reads the start)
        (0x00100000, 0x20000),  # its environment
        (0x00E00000, 0x00400000),  # a range running from the vendor area into slot A
        (0x00FFFFFF, 1),  # the last byte of the vendor area
    ],
)
def test_the_bootloader_region_is_refused(offset, length):
    assert NOR is not None
    with pytest.raises(ReadOnlyRegionError, match="read-only region vendor") as info:
        check_writable(NOR, offset, length)
    assert "nothing done" in str(info.value)


def test_outside_the_flash_is_refused():
    assert NOR is not None
    with pytest.raises(ReadOnlyRegionError, match="outside the NOR flash"):
        check_writable(NOR, 0x07FFFFFF, 2 << 20)
    with pytest.raises(ReadOnlyRegionError):
        check_writable(NOR, 0, 0)


def test_nand_bootloader_is_refused_and_images_need_a_spare_block():
    nand = MIRABOX.flash.nand
    assert nand is not None
    with pytest.raises(ReadOnlyRegionError, match="u-boot"):
        nand_writable(nand, nand.partition("u-boot"), 1000)
    kernel = nand.partition("kernel")
    nand_writable(nand, kernel, 3 << 20)
    with pytest.raises(FlashError, match="no spare erase block"):
        nand_writable(nand, kernel, 4 << 20)


def test_slot_choice():
    assert active_slot({}, "bootslot") == "a"
    assert active_slot({"bootslot": "b"}, "bootslot") == "b"
    assert active_slot({"bootslot": " B "}, "bootslot") == "b"
    assert active_slot({"bootslot": "garbage"}, "bootslot") == "a"
    assert round_up(1, 0x20000) == 0x20000 and round_up(0x20000, 0x20000) == 0x20000


def test_default_medium():
    assert default_medium(AX3) == "nor"
    assert default_medium(MIRABOX) == "nand-kernel"


def test_ymodem_framing():
    assert crc16(b"123456789") == 0x31C3  # CRC-16/XMODEM check value
    head = block0("uImage", 1234)
    assert len(head) == 3 + 128 + 2 and head[:3] == b"\x01\x00\xff"
    assert head[3 : 3 + 12] == b"uImage\x001234\x00"
    assert int.from_bytes(head[-2:], "big") == crc16(head[3:-2])
    assert block0("", 0)[3:-2] == bytes(128)
    blk = data_block(256, b"abc")
    assert blk[:3] == b"\x02\x00\xff" and len(blk) == 3 + 1024 + 2
    assert blk[3:6] == b"abc" and blk[6:1027] == b"\x1a" * 1021


def test_ssd_commands_quote_and_verify_what_was_written():
    cmd = commands("/dev/sda", "linerate image.wic", "192.168.0.1", 69, 12345, "/tmp/x.img")
    assert cmd["fetch"] == "tftp -g -b 1468 -r 'linerate image.wic' -l /tmp/x.img 192.168.0.1 69"
    assert cmd["write"] == "dd if=/tmp/x.img of=/dev/sda bs=1M conv=fsync && sync"
    assert cmd["sum_dev"] == "head -c 12345 /dev/sda | sha256sum"
    assert cmd["stream"] == (
        "set -o pipefail; tftp -g -b 1468 -r 'linerate image.wic' -l - 192.168.0.1 69 | "
        "gunzip -c | dd of=/dev/sda bs=1M conv=fsync && sync"
    )
    assert "drop_caches" in cmd["drop_caches"]


def test_tftp_overrides():
    t = tftp_overrides(AX3.tftp, "172.16.0.1", "172.16.0.2")
    assert (t.bind, t.serverip, t.linux_serverip, t.ipaddr) == (
        "172.16.0.1",
        "172.16.0.1",
        "172.16.0.1",
        "172.16.0.2",
    )
    assert tftp_overrides(AX3.tftp, None, None) == AX3.tftp


def test_progress_on_a_pipe_prints_one_line_per_phase_end():
    out = io.StringIO()
    p = Progress(stream=out, tty=False)
    p.phase("erase")
    p.bytes(10, 100)
    p.done("3 blocks")
    text = out.getvalue()
    assert "flash: erase ..." in text and "flash: erase: done in" in text and "3 blocks" in text
    assert "\r" not in text
    assert [name for name, _ in p.timings] == ["erase"]


def test_progress_on_a_terminal_draws_a_bar():
    out = io.StringIO()
    p = Progress(stream=out, tty=True)
    p.phase("TFTP")
    p.bytes(50, 100)
    p.bytes(100, 100)
    p.done()
    assert "[###############---------------]  50.0%" in out.getvalue()
    assert "100.0%" in out.getvalue()


def test_the_builds_uboot_env_gives_linerate_bootargs(tmp_path):
    from linerate.flash.flasher import deployed_env

    image = tmp_path / "linerate-image-openblocks-ax3.rootfs.noruimg"
    image.write_bytes(b"x")
    assert deployed_env(image) == {}
    (tmp_path / "linerate-image-openblocks-ax3.rootfs.uboot-env.txt").write_text(
        "# comment\nbootargs=console=ttyS0,115200 rdinit=/sbin/init\n"
        "bootcmd=bootm 0xe8000000; bootm 0xe9000000\n"
    )
    assert deployed_env(image) == {"linerate_bootargs": "console=ttyS0,115200 rdinit=/sbin/init"}


@pytest.mark.parametrize("name", ["openblocks-ax3", "mirabox", "virt"])
def test_every_variable_the_flasher_sets_fits_the_command_line(name):
    """setenv NAME 'VALUE'; echo rcXXXXXX=$? must fit U-Boot's line (CONFIG_SYS_CBSIZE)."""
    profile = load_profile(name)
    values = {"bootcmd": profile.uboot.bootcmd, **profile.uboot.env}
    for var, value in values.items():
        line = f"setenv {var} '{value}'; echo rc000000=$?"
        assert len(line) <= profile.console.max_line, f"{var}: {len(line)} characters"
        assert "'" not in value and all(0x20 <= ord(c) <= 0x7E for c in value)


def test_nand_plan_kernel_and_ubi():
    from linerate.flash.nand import plan

    nand = MIRABOX.flash.nand
    assert nand is not None
    kernel = plan(nand, nand.partition("kernel"), 3_000_001, False, 0x2000000, 0x4000000)
    assert [s.command for s in kernel] == [
        "nand erase 0x400000 0x300000",  # up to the next 512 KiB block
        "nand write 0x2000000 0x400000 0x2dd000",  # up to the next 4 KiB page
        "nand read 0x4000000 0x400000 0x2dd000",
    ]
    ubi = plan(nand, nand.partition("ubi"), 20 << 20, True, 0x2000000, 0x4000000)
    assert ubi[0].command == "nand erase 0x800000 0x3f800000"  # the whole partition
    assert ubi[1].command.startswith("nand write.trimffs 0x2000000 0x800000 ")
    assert all(s.timeout >= 60 for s in kernel + ubi)


def test_a_compressed_image_is_checked_by_its_content(tmp_path):
    import gzip

    from linerate.flash.ssd import content_sha256

    data = os.urandom(100_000) + bytes(300_000)
    path = tmp_path / "x.wic.gz"
    path.write_bytes(gzip.compress(data))
    assert content_sha256(path) == (hashlib.sha256(data).hexdigest(), len(data))
    path.write_bytes(gzip.compress(data)[:-20])
    with pytest.raises(FlashError, match="not a whole gzip file"):
        content_sha256(path)
