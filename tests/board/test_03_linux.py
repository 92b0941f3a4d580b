"""Linux on the board: a shell, the pinned kernel, ndiv on every test port, the MACs."""

from __future__ import annotations

import secrets

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


def _fw_env(shell, lab) -> str:
    """Put the surveyed fw_env.config on the board; return its path there."""
    config = lab.fw_env_config
    assert config is not None, f"the survey located no environment ({lab.env_copies})"
    lines = [line for line in config.splitlines() if line and not line.startswith("#")]
    shell.check("printf '%s\\n' " + " ".join(f"'{line}'" for line in lines) + " >/tmp/fw_env")
    return "/tmp/fw_env"


def test_fw_printenv_reads_what_uboot_reads(board, at_uboot, board_lab, board_profile):
    """libubootenv in Linux, with the fw_env.config the survey wrote, reads the
    environment U-Boot booted with (a wrong offset, size or redundancy is a bad CRC)."""
    env = at_uboot.uboot.printenv()
    at_uboot.boot("boot")
    shell = at_uboot.shell
    config = _fw_env(shell, board_lab)
    status, out = shell.run(f"fw_printenv -c {config}")
    assert status == 0, f"fw_printenv failed: {out}"
    assert "Bad CRC" not in out and "default environment" not in out.lower(), out
    linux = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for port in board_profile.ports:
        assert linux.get(port.mac_env) == env[port.mac_env], port.mac_env
    # An empty stored variable is no variable to U-Boot (mkenvimage keeps "name=").
    differ = {k for k in linux if linux[k] and linux[k] != env.get(k)}
    assert not differ, f"fw_printenv and U-Boot differ on {sorted(differ)}"


def test_fw_printenv_follows_uboot_saveenv(board, at_uboot, board_lab):
    """U-Boot saves (on a redundant environment: the other copy, the old one marked
    obsolete); fw_printenv in Linux then reads the new value, not the old copy."""
    token = secrets.token_hex(4)
    ub = at_uboot.uboot
    ub.check(f"setenv linerate_fwenv {token}")
    ub.check("saveenv", timeout=60.0)
    try:
        at_uboot.boot("boot")
        shell = at_uboot.shell
        config = _fw_env(shell, board_lab)
        got = shell.check(f"fw_printenv -c {config} -n linerate_fwenv").strip()
        assert got == token, f"fw_printenv read {got!r}: the copy U-Boot saved is not current"
    finally:
        at_uboot.to_uboot()
        at_uboot.uboot.check("setenv linerate_fwenv")
        at_uboot.uboot.check("saveenv", timeout=60.0)


#: Measured: QEMU's vexpress flash (two x16 chips in a 32-bit bank) times out Linux's
#: single-word programs ("dd: error writing '/dev/mtd3': Timer expired" for one byte),
#: and fw_setenv marks the old copy obsolete with a one-byte write. Buffer writes work.
NO_WORD_PROGRAM = {"vexpress"}


def test_fw_setenv_writes_what_uboot_reads(board, at_uboot, board_lab, board_profile):
    """fw_setenv in Linux with the surveyed config; U-Boot finds the value after a reboot
    (where the appliance's mtdparts leaves the environment writable)."""
    device = (board_lab.fw_env_config or "").split("/dev/", 1)[-1].split()[0]
    writable = {p.device: p.writable for p in board_lab.linux_mtd or ()}
    if not writable.get(device):
        pytest.skip(f"the environment's partition {device} is read-only in this kernel")
    if board_profile.name in NO_WORD_PROGRAM and board_lab.env_redundant:
        pytest.skip("QEMU's vexpress flash times out Linux's one-byte writes (the flag byte)")
    at_uboot.boot("boot")
    shell = at_uboot.shell
    config = _fw_env(shell, board_lab)
    token = secrets.token_hex(4)
    shell.check(f"fw_setenv -c {config} linerate_fwenv {token}")
    assert shell.check(f"fw_printenv -c {config} -n linerate_fwenv").strip() == token
    at_uboot.to_uboot()
    env = at_uboot.uboot.printenv()
    assert env.get("linerate_fwenv") == token, "U-Boot does not see what fw_setenv wrote"
    at_uboot.uboot.check("setenv linerate_fwenv")
    at_uboot.uboot.check("saveenv", timeout=60.0)
