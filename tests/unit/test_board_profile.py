"""Board profiles: the three in board/ load with the agreed flash maps; bad ones fail
with the file, the key and what was expected."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from linerate import ROOT
from linerate.board.profile import ProfileError, available, load_profile, parse_profile

MiB = 1 << 20


def test_every_board_directory_has_a_valid_profile():
    assert {"openblocks-ax3", "mirabox", "virt"} <= set(available())
    for name in available():
        assert load_profile(name).name == name


def test_kas_machines():
    assert load_profile("openblocks-ax3").kas_machine == "openblocks-ax3"
    assert load_profile("mirabox").kas_machine == "mirabox"
    assert load_profile("virt").kas_machine == "qemuarm"


def test_ax3_nor_map_is_the_agreed_one():
    """U-Boot at the start of NOR (Plat'Home's mtd0: the BootROM reads its boot image
    there) stays read-only with the vendor's environment, diag and config; no slot at 0."""
    p = load_profile("openblocks-ax3")
    nor = p.flash.nor
    assert nor is not None and nor.base == 0xF0000000 and nor.size == 128 * MiB
    assert nor.erase_block == 128 << 10
    got = [(x.name, x.offset, x.size, x.read_only, x.slot) for x in nor.partitions]
    assert got == [
        ("vendor", 0x00000000, 16 * MiB, True, None),
        ("uimage-a", 0x01000000, 16 * MiB, False, "a"),
        ("uimage-b", 0x02000000, 16 * MiB, False, "b"),
        ("spare", 0x03000000, 0x05000000, False, None),
    ]
    assert (nor.env_offset, nor.env_size, nor.env_verified) == (0x00100000, 0x20000, False)
    assert nor.env_redundant
    assert p.flash.ssd is not None and p.flash.ssd.device == "/dev/sda"
    assert [x.name for x in p.test_ports] == ["eth1", "eth2", "eth3"]
    assert [x.mac_env for x in p.ports] == ["ethaddr", "eth1addr", "eth2addr", "eth3addr"]


def test_ax3_map_matches_the_machine_configuration():
    """conf/machine/openblocks-ax3.conf's mtdparts says the same thing as the profile."""
    conf = (ROOT / "conf" / "machine" / "openblocks-ax3.conf").read_text()
    assert "16m(vendor)ro,16m(uimage-a),16m(uimage-b),0x5000000(spare)" in conf


def test_mirabox_nand_map_is_the_agreed_one():
    nand = load_profile("mirabox").flash.nand
    assert nand is not None and (nand.erase_block, nand.page) == (512 << 10, 4 << 10)
    got = [(x.name, x.offset, x.end, x.read_only) for x in nand.partitions]
    assert got == [
        ("u-boot", 0, 4 * MiB, True),
        ("kernel", 4 * MiB, 8 * MiB, False),
        ("ubi", 8 * MiB, nand.size, False),
    ]


def test_virt_map_matches_the_virtual_board():
    from linerate.vboard import norimage as vflash

    nor = load_profile("virt").flash.nor
    assert nor is not None and nor.base == vflash.FLASH_BASE
    for slot in (vflash.SLOT_A, vflash.SLOT_B):
        part = nor.partition(slot.name)
        assert (part.offset, part.size) == (slot.offset, slot.size)
    env = nor.partition("u-boot-env")
    assert (env.offset, env.size, env.read_only) == (vflash.ENV_OFFSET, vflash.ENV_SIZE, True)
    assert all(p.end <= vflash.UBOOT_VISIBLE for p in nor.partitions)


def test_unknown_board_lists_the_available_ones():
    with pytest.raises(ProfileError, match="available boards: .*openblocks-ax3"):
        load_profile("no-such-board")


# -- errors ---------------------------------------------------------------------------

BASE = yaml.safe_load((ROOT / "board" / "openblocks-ax3" / "board.yml").read_text())
PATH = Path("board/openblocks-ax3/board.yml")


def _broken(edit) -> str:
    data = copy.deepcopy(BASE)
    edit(data)
    with pytest.raises(ProfileError) as info:
        parse_profile(data, PATH)
    message = str(info.value)
    assert message.startswith(f"{PATH}: "), message
    return message


def _parts(d):
    return d["flash"]["nor"]["partitions"]


@pytest.mark.parametrize(
    ("edit", "key", "expect"),
    [
        (lambda d: d.pop("kas_machine"), "kas_machine", "missing"),
        (lambda d: d["console"].update(baud="fast"), "console.baud", "expected an integer"),
        (lambda d: d["console"].update(baud=True), "console.baud", "expected an integer"),
        (lambda d: d["console"].update(bauds=9600), "console.bauds", "unknown key"),
        (lambda d: d["console"].update(stop_key=""), "console.stop_key", "must not be empty"),
        (
            lambda d: _parts(d)[2].update(offset=0x01FE0000),
            "flash.nor.partitions[2].offset",
            "overlaps uimage-a",
        ),
        (
            lambda d: _parts(d)[3].update(size=0x05000100),
            "flash.nor.partitions[3].size",
            "not a multiple of the erase block",
        ),
        (
            lambda d: _parts(d)[3].update(offset=0x03080000),
            "flash.nor.partitions[3].size",
            "beyond the device size",
        ),
        (
            lambda d: _parts(d)[1].update(read_only=True),
            "flash.nor.partitions[1].read_only",
            "boot slot cannot be read-only",
        ),
        (lambda d: _parts(d)[1].update(slot="c"), "flash.nor.partitions[1].slot", "a or b"),
        (lambda d: _parts(d)[1].pop("slot"), "flash.nor.partitions", "exactly slots a and b"),
        (
            lambda d: d["flash"]["nor"].update(env_offset=0x02000000),
            "flash.nor.env_offset",
            "inside a read_only partition",
        ),
        (
            lambda d: d["uboot"].update(bootcmd="bootm 0xe8000000"),
            "uboot.bootcmd",
            "does not use the slot variable",
        ),
        (
            lambda d: d["network"]["ports"][1].pop("address"),
            "network.ports[1].address",
            "needs its address",
        ),
        (
            lambda d: d["network"]["ports"][1].update(address="10.1.1.300/24"),
            "network.ports[1].address",
            "IPv4 address with a prefix",
        ),
        (
            lambda d: d["network"]["ports"][2].update(role="spare"),
            "network.ports[2].role",
            "one of management, test",
        ),
        (lambda d: d["tftp"].update(serverip="host"), "tftp.serverip", "an IPv4 address"),
        (lambda d: d["power"].update(method="command"), "power.command", "missing"),
        (lambda d: d.update(name="mirabox"), "name", "must be named 'openblocks-ax3'"),
        (lambda d: d["flash"].update(nor=[]), "flash.nor", "expected a mapping"),
    ],
)
def test_errors_name_the_key_and_what_is_expected(edit, key, expect):
    message = _broken(edit)
    assert f": {key}: " in message, message
    assert expect in message, message


def test_not_yaml_is_reported_with_the_file(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ProfileError, match=f"{bad}: not valid YAML"):
        load_profile(bad)


def test_a_valid_variant_loads(tmp_path):
    data = copy.deepcopy(BASE)
    data["power"] = {"method": "command", "command": ["relay", "cycle", "3"]}
    profile = parse_profile(data, PATH)
    assert profile.power.command == ("relay", "cycle", "3")
