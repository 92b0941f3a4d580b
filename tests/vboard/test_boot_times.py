"""Boot to the shell without stopping anywhere: directly (-kernel) and through U-Boot."""

from __future__ import annotations

import pytest

from linerate.board.strategy import State
from linerate.board.target import VirtualTarget


@pytest.mark.parametrize("direct", [True, False], ids=["direct-kernel", "through-uboot"])
def test_boot_to_shell_time(transcript, vboard_images, direct):
    name = "boot_direct" if direct else "boot_uboot"
    with VirtualTarget(
        images=vboard_images,
        transcript=transcript(name),
        boot_to=State.SHELL,
        direct_kernel=direct,
        stop_in_uboot=False,
    ) as s:
        assert s.strategy.time_to_shell is not None
        print(f"{name}: shell after {s.strategy.time_to_shell:.2f} s")
        assert s.strategy.shell.check("echo up") == "up"
        log = s.strategy.boot_log
        if direct:
            assert "U-Boot" not in log
        else:
            assert (
                "Hit any key to stop autoboot" in s.strategy.uboot_log
                and "Booting slot A" in s.strategy.uboot_log
            )
        assert s.strategy.time_to_shell < 90
