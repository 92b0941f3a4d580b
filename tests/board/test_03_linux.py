"""Linux on the board: a shell, the pinned kernel, ndiv on every test port, the MACs."""

from __future__ import annotations

import pytest
from board_helpers import ndiv_table, pinned_kernel_version


def test_boots_to_a_shell(at_shell):
    assert at_shell.shell.check("echo linerate-shell-ok") == "linerate-shell-ok"
    assert at_shell.shell.check("cat /proc/sys/kernel/ostype") == "Linux"


def test_kernel_is_the_pinned_version(at_shell, ndiv_kernel):
    pinned = pinned_kernel_version()
    release = at_shell.shell.check("uname -r").strip()
    assert release == pinned or (
        release.startswith(pinned) and not release[len(pinned)].isdigit()
    ), f"kernel {release}, recipes/linux-ndiv/linux-ndiv.inc pins {pinned}"


def test_ndiv_is_attached_to_every_test_port(at_shell, board_profile, ndiv_kernel):
    shell = at_shell.shell
    status, table = shell.run("cat /proc/net/ndiv")
    assert status == 0, "no /proc/net/ndiv: the kernel has no ndiv"
    attached = ndiv_table(table)
    for port in board_profile.test_ports:
        assert port.name in attached, f"ndiv not attached to {port.name}: {table!r}"
    status, apps = shell.run("cat /sys/kernel/slhttpd/attached")
    assert status == 0, "SLHTTPD is not loaded (/sys/kernel/slhttpd missing)"
    for port in board_profile.test_ports:
        assert port.name in apps.split(), f"SLHTTPD not attached to {port.name}: {apps!r}"


def test_port_macs_come_from_the_bootloader(board, at_uboot, board_profile, ndiv_kernel):
    env = at_uboot.uboot.printenv()
    at_uboot.boot("boot")
    for port in board_profile.ports:
        want = env.get(port.mac_env, "").lower()
        if not want:
            pytest.fail(f"U-Boot has no {port.mac_env} for {port.name}")
        got = at_uboot.shell.check(f"cat /sys/class/net/{port.name}/address").strip().lower()
        assert got == want, f"{port.name} has {got}, the bootloader's {port.mac_env} is {want}"
