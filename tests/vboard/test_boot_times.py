"""Boot to the shell without stopping anywhere: directly (-kernel) and through U-Boot."""

from __future__ import annotations

import pytest

from linerate.vboard.session import VboardSession


@pytest.mark.parametrize("direct", [True, False], ids=["direct-kernel", "through-uboot"])
def test_boot_to_shell_time(transcript, vboard_images, direct):
    name = "boot_direct" if direct else "boot_uboot"
    with VboardSession(
        vboard_images, transcript=transcript(name), direct_kernel=direct, stop_in_uboot=False
    ) as s:
        assert s.time_to_shell is not None
        print(f"{name}: shell after {s.time_to_shell:.2f} s")
        assert s.shell.check("echo up") == "up"
        log = s.boot_log
        if direct:
            assert "U-Boot" not in log
        else:
            assert "Hit any key to stop autoboot" in s.uboot_log and "Booting slot A" in s.uboot_log
        assert s.time_to_shell < 90
