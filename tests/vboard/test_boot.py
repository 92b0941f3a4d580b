"""Boot through U-Boot from flash to the shell; what U-Boot hands the kernel."""

from __future__ import annotations

import re

import pytest

from linerate.vboard.launcher import NIC0_MAC, NIC1_MAC

BAD_KERNEL_LINES = re.compile(r"WARNING:|Oops|BUG:|Internal error|Call trace|Kernel panic")


def test_uboot_loaded_our_environment_from_flash(vboard):
    assert "Loading Environment from Flash... OK" in vboard.strategy.uboot_log
    env = vboard.strategy.uboot_env
    assert env["ethaddr"] == "02:4c:52:00:00:01"
    assert env["eth1addr"] == "02:4c:52:00:00:02"
    assert env["bootcmd"] == "run boot_a; run boot_b"
    # U-Boot's MAC is not QEMU's: the MAC tests below prove where the kernel's comes from.
    assert env["ethaddr"] != NIC0_MAC and env["eth1addr"] != NIC1_MAC


def test_booted_from_slot_a(vboard):
    assert "Booting slot A" in vboard.strategy.boot_log
    assert "Booting slot B" not in vboard.strategy.boot_log
    assert "Starting kernel" in vboard.strategy.boot_log


def test_kernel_command_line_from_uboot_environment(vboard):
    cmdline = vboard.strategy.shell.check("cat /proc/cmdline")
    env = vboard.strategy.uboot_env
    assert "${" not in cmdline
    assert "console=ttyAMA0,115200" in cmdline
    assert f"ethaddr={env['ethaddr']}" in cmdline.split()
    assert f"eth1addr={env['eth1addr']}" in cmdline.split()


def test_shell_returns_output_and_status(vboard):
    assert vboard.strategy.shell.run("echo hello; false") == (1, "hello")
    assert vboard.strategy.shell.check("uname -m") == "armv7l"
    assert vboard.strategy.shell.run("exit_status_probe_no_such_command")[0] == 127


def test_network_interfaces_configured(vboard):
    out = vboard.strategy.shell.check("ip -4 addr show eth0; ip -4 addr show eth1")
    assert "10.0.2.15/24" in out
    assert "10.0.3.15/24" in out


def test_dmesg_has_no_warnings(vboard):
    dmesg = vboard.strategy.shell.kernel_log()
    assert "Linux version" in dmesg, "the kernel log read through the console is empty"
    bad = [line for line in dmesg.splitlines() if BAD_KERNEL_LINES.search(line)]
    assert not bad, "\n".join(bad)


def test_kernel_takes_macs_from_the_bootloader(vboard, ndiv_kernel):
    env = vboard.strategy.uboot_env
    eth0 = vboard.strategy.shell.check("cat /sys/class/net/eth0/address")
    eth1 = vboard.strategy.shell.check("cat /sys/class/net/eth1/address")
    assert eth0 == env["ethaddr"] != NIC0_MAC
    assert eth1 == env["eth1addr"] != NIC1_MAC


def test_boot_time_reported(vboard):
    st = vboard.strategy
    assert st.time_to_uboot is not None and st.time_to_shell is not None
    print(f"U-Boot prompt {st.time_to_uboot:.2f} s, shell {st.time_to_shell:.2f} s")
    assert st.time_to_shell < 120


def test_kernel_messages_do_not_leak_into_command_output(vboard):
    """A kernel message printed on the console in the middle of a command."""
    status, out = vboard.strategy.shell.run(
        "echo before; echo '<2>linerate-test: a kernel message' >/dev/kmsg; sleep 0.2; echo after"
    )
    assert status == 0
    assert out == "before\nafter"
    assert "linerate-test: a kernel message" in vboard.port.tail()


def test_a_command_that_hangs_times_out_and_leaves_a_usable_shell(vboard):
    from linerate.console import ConsoleTimeoutError

    with pytest.raises(ConsoleTimeoutError):
        vboard.strategy.shell.run("sleep 30", timeout=1.0)
    assert vboard.strategy.shell.check("echo still here") == "still here"


def test_linux_sees_the_flash_map_u_boot_uses(vboard, vboard_images):
    """mtdparts from U-Boot's environment: Linux reads the very uImage U-Boot booted
    from uimage-a, and U-Boot's environment in uboot-env."""
    import hashlib

    mtd = vboard.strategy.shell.check("cat /proc/mtd")
    for name, size in (
        ("uboot-env", "00040000"),
        ("uimage-a", "00f00000"),
        ("uimage-b", "00f00000"),
    ):
        assert re.search(rf'^mtd\d+: {size} 00040000 "{name}"$', mtd, re.M), mtd
    index = {m.group(2): m.group(1) for m in re.finditer(r'^mtd(\d+): \S+ \S+ "(\S+)"', mtd, re.M)}
    data = vboard_images.uimage.read_bytes()
    out = vboard.strategy.shell.check(
        f"head -c {len(data)} /dev/mtdblock{index['uimage-a']} | md5sum"
    )
    assert out.split()[0] == hashlib.md5(data).hexdigest()
    env = vboard.strategy.shell.check(f"head -c 4096 /dev/mtdblock{index['uboot-env']} | strings")
    assert "bootcmd=run boot_a; run boot_b" in env
