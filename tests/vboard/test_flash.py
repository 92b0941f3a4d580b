"""U-Boot and the NOR flash: environment persistence, slot checksums, A/B fallback."""

from __future__ import annotations

import re
import secrets
import time
import zlib

import pytest

from linerate.board.strategy import State
from linerate.board.target import VirtualTarget
from linerate.console import BadPatternError
from linerate.vboard.norimage import ENV_SIZE, SLOT_A, SLOT_B


def test_slots_hold_the_uimage_u_boot_reads_back(transcript, vboard_images):
    """U-Boot's crc32 of each slot equals the host's CRC of the uImage written there."""
    data = vboard_images.uimage.read_bytes()
    with VirtualTarget(
        images=vboard_images, transcript=transcript("flash_crc"), boot_to=State.UBOOT
    ) as s:
        for slot in (SLOT_A, SLOT_B):
            assert s.strategy.uboot.crc32(slot.address, len(data)) == zlib.crc32(data)
        info = s.strategy.uboot.check(f"iminfo {SLOT_A.address:#x}")
        assert "Multi-File Image" in info and "Verifying Checksum ... OK" in info
        # A bad pattern fails at once (no timeout) and the driver is usable after it.
        t0 = time.monotonic()
        with pytest.raises(BadPatternError, match="unknown command"):
            s.strategy.uboot.send_command("linerate_no_such_command", timeout=30)
        assert time.monotonic() - t0 < 5
        s.strategy.uboot.sync()
        assert s.strategy.uboot.send_command("echo back") == "back"


def test_saveenv_persists_across_reset_and_in_the_flash_file(transcript, vboard_images):
    token = secrets.token_hex(6)
    with VirtualTarget(
        images=vboard_images, transcript=transcript("flash_saveenv"), boot_to=State.UBOOT
    ) as s:
        ub = s.strategy.uboot
        ub.setenv("linerate_test", token)
        # A long value: typed in chunks, each echo awaited (U-Boot has no flow control).
        long_value = "-".join(f"{i:03d}" for i in range(110))[:480]
        ub.setenv("linerate_long", long_value)
        ub.saveenv()
        s.strategy.reset_to_uboot()
        assert "Loading Environment from Flash... OK" in s.strategy.uboot_log
        assert ub.getenv("linerate_test") == token
        assert ub.printenv()["linerate_long"] == long_value
        s.board.stop()
        env = s.board.pflash.read_bytes()[:ENV_SIZE]
    crc, data = int.from_bytes(env[:4], "little"), env[4:]
    assert zlib.crc32(data) == crc
    assert f"linerate_test={token}".encode() in data


def test_slot_b_boots_when_slot_a_is_erased(transcript, vboard_images):
    with VirtualTarget(
        images=vboard_images, transcript=transcript("flash_ab"), boot_to=State.UBOOT
    ) as s:
        ub = s.strategy.uboot
        out = ub.check(f"erase {SLOT_A.address:#x} +0x40000", timeout=60)
        assert re.search(r"Erased \d+ sectors", out)
        log = s.strategy.boot("boot")
        assert "Booting slot A" in log and "Booting slot B" in log
        assert "Invalid image type for imxtract" in log
        assert s.strategy.shell.check("echo alive") == "alive"
