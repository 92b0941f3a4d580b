"""U-Boot is reachable and its environment is sane for this board's profile."""

from __future__ import annotations

from board_helpers import MAC_RE


def test_uboot_prompt_answers(at_uboot):
    assert at_uboot.uboot.send_command("echo linerate-uboot-ok").strip() == "linerate-uboot-ok"


def test_environment_is_sane(at_uboot, board_profile):
    env = at_uboot.uboot.printenv()
    assert env.get("baudrate") in (None, str(board_profile.console.baud)), env.get("baudrate")
    assert env.get("bootcmd"), "no bootcmd: the board would not boot by itself"
    macs = {}
    for port in board_profile.ports:
        mac = env.get(port.mac_env, "").lower()
        assert MAC_RE.match(mac), f"{port.mac_env} (port {port.name}) is {mac!r}, not a MAC"
        first = int(mac[:2], 16)
        assert not first & 1, f"{port.mac_env}={mac} is a multicast address"
        assert mac != "00:00:00:00:00:00"
        macs[port.mac_env] = mac
    assert len(set(macs.values())) == len(macs), f"two ports share a MAC: {macs}"


def test_flash_map_matches_the_flash(at_uboot, board_profile):
    """Every NOR partition lies in the flash U-Boot sees (flinfo)."""
    nor = board_profile.flash.nor
    if nor is None:
        import pytest

        pytest.skip(f"{board_profile.name} has no NOR flash")
    out = at_uboot.uboot.send_command("flinfo", timeout=30.0)
    assert "Sector Start Addresses" in out, out[-500:]
    for part in nor.partitions:
        start = nor.base + part.offset
        assert f"{start:08X}" in out.upper(), f"{part.name} start {start:#x} is not a sector"
