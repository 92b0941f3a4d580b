"""The layer agrees with itself, with the kernel source and with the boards.

- linux-ndiv_6.12.bb takes its version, patches and fragments only from
  linux-ndiv.inc, the file `linerate kernel` reads;
- every file:// of every SRC_URI exists;
- every KERNEL_DEVICETREE is a DTS of the pinned kernel source, and the
  mtdparts ids match what that DTS gives;
- machine names, flash maps, environment location and image limits agree
  with board/*/board.yml.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from layerlib import BOARDS, MACHINES, ROOT, board_profile

from linerate.kernel.inputs import INC_PATH, parse_inc
from linerate.layer import conf as layer_conf
from linerate.layer.kernel_tree import dts_for_dtb, pinned_tarball, read_members, tarball_listing

KERNEL_BB = ROOT / "recipes" / "linux-ndiv" / "linux-ndiv_6.12.bb"
DISTRO_LAYER = ROOT / "distro"
RECIPE_FILES = sorted(
    [
        *ROOT.glob("recipes/*/*.bb"),
        *ROOT.glob("recipes/*/*.bbappend"),
        *ROOT.glob("images/*.bb"),
        *DISTRO_LAYER.glob("recipes/*/*.bbappend"),
    ]
)
OVERRIDES = [*MACHINES, "linerate"]


def src_uri_files(path: Path) -> list[str]:
    """The file:// names of every SRC_URI assignment in a recipe (and what it requires)."""
    conf = layer_conf.read_conf(path, [path.parent, ROOT])
    names: list[str] = []
    for var, assignments in conf.history.items():
        if var.split(":")[0] != "SRC_URI":
            continue
        for _op, value in assignments:
            names += [u[len("file://") :].split(";")[0] for u in value.split() if "file://" in u]
    return names


def search_dirs(recipe: Path) -> list[Path]:
    """FILESPATH, as far as this layer uses it: FILESEXTRAPATHS, then BPN and files/."""
    conf = layer_conf.read_conf(recipe, [recipe.parent, ROOT])
    conf.values.setdefault("THISDIR", str(recipe.parent))
    conf.values.setdefault("LINERATE_LAYERDIR", str(ROOT))
    extra: list[Path] = []
    for var, assignments in conf.history.items():
        if var.startswith("FILESEXTRAPATHS"):
            for _op, value in assignments:
                extra += [Path(p) for p in conf.expand(value).split(":") if p.strip()]
    bpn = recipe.name.split("_")[0].removesuffix(".bb").removesuffix(".bbappend")
    return [*extra, recipe.parent / bpn, recipe.parent / "files", recipe.parent]


def test_kernel_recipe_requires_the_shared_inc():
    conf = layer_conf.read_conf(KERNEL_BB, [KERNEL_BB.parent, ROOT])
    assert "linux-ndiv.inc" in conf.requires


def test_kernel_recipe_adds_no_patches_or_fragments_of_its_own():
    own = layer_conf.read_conf(KERNEL_BB, follow=False)  # the .bb alone
    for var, assignments in own.history.items():
        if var.split(":")[0] == "SRC_URI":
            for _op, value in assignments:
                files = [u for u in value.split() if u.startswith("file://")]
                assert not files, f"{KERNEL_BB.name} adds {files}: put them in linux-ndiv.inc"


def test_kernel_inputs_are_those_linerate_kernel_uses():
    """Two readers of linux-ndiv.inc (the layer's and `linerate kernel`'s) agree,
    and the recipe fetches the stable tag of that version."""
    inputs = parse_inc()
    conf = layer_conf.read_conf(KERNEL_BB, [KERNEL_BB.parent, ROOT])
    uris = [u for u in conf.get("SRC_URI").split() if u.startswith("file://")]
    names = [u[len("file://") :].split(";")[0] for u in uris]
    assert names == [p.name for p in inputs.patches + inputs.fragments] or sorted(names) == sorted(
        p.name for p in (*inputs.patches, *inputs.fragments)
    )
    assert [n for n in names if n.endswith(".patch")] == [p.name for p in inputs.patches]
    assert [n for n in names if n.endswith(".cfg")] == [p.name for p in inputs.fragments]
    assert conf.get("LINUX_VERSION") == inputs.version
    git = conf.get("SRC_URI").split()[0]
    assert git.startswith("git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git;")
    assert f"tag=v{inputs.version}" in git
    assert f"branch=linux-{'.'.join(inputs.version.split('.')[:2])}.y" in git
    assert conf.get("KBUILD_DEFCONFIG") == inputs.defconfig


@pytest.mark.parametrize("recipe", RECIPE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_local_file_in_src_uri_exists(recipe):
    dirs = search_dirs(recipe)
    for name in src_uri_files(recipe):
        plain = [d / name for d in dirs if (d / name).exists()]
        per_override = {
            o: [d / o / name for d in dirs if (d / o / name).exists()] for o in OVERRIDES
        }
        if plain:
            continue
        machines = [m for m in MACHINES if per_override[m]]
        assert machines, f"{recipe.name}: file://{name} not found in {[str(d) for d in dirs]}"
        assert machines == list(MACHINES), f"{recipe.name}: file://{name} only for {machines}"


def test_kernel_inc_is_the_one_linerate_kernel_reads():
    assert INC_PATH == KERNEL_BB.parent / "linux-ndiv.inc"


@pytest.fixture(scope="module")
def kernel_files() -> set[str]:
    tarball = pinned_tarball()
    if not tarball.is_file():
        pytest.skip(f"{tarball} not installed (the kernel tier installs it)")
    return set(tarball_listing(tarball))


@pytest.mark.parametrize("machine", MACHINES)
def test_devicetree_is_in_the_pinned_kernel(machine, kernel_files):
    dtbs = layer_conf.machine_conf(machine).get("KERNEL_DEVICETREE").split()
    assert len(dtbs) == 1, "one DTB per machine: the uImage carries one appended tree"
    assert dts_for_dtb(dtbs[0]) in kernel_files


def test_mtd_ids_match_the_device_trees(kernel_files):
    """mtdparts= names the NOR by its physmap device name and the NAND by its label."""
    ax3 = layer_conf.machine_conf("openblocks-ax3")
    mira = layer_conf.machine_conf("mirabox")
    names = [dts_for_dtb(m.get("KERNEL_DEVICETREE")) for m in (ax3, mira)]
    ax3_dts, mira_dts = (read_members(pinned_tarball(), names)[n] for n in names)
    # nor@0 under devbus-bootcs; the SoC maps that chip select (MBUS_ID(0x01, 0x2f)) at
    # 0xe8000000, so the platform device, and the mtd, is "e8000000.nor".
    assert "nor@0 {" in ax3_dts and "partitions" not in ax3_dts
    window = re.search(r"MBUS_ID\(0x01, 0x2f\) 0 0 (0x[0-9a-f]+)", ax3_dts)
    assert window, "the boot chip-select window moved in the DTS"
    assert (
        layer_conf.parse_mtdparts(ax3.get("LINERATE_MTDPARTS"))[0] == f"{window.group(1)[2:]}.nor"
    )
    label = re.search(r'nand@0 \{[^}]*?label = "([^"]+)"', mira_dts, re.S)
    assert label, "the Mirabox NAND node has no label any more"
    assert layer_conf.parse_mtdparts(mira.get("LINERATE_MTDPARTS"))[0] == label.group(1)


@pytest.mark.parametrize("machine", MACHINES)
def test_machine_boots_with_the_vendor_uboot(machine):
    conf = layer_conf.machine_conf(machine)
    assert conf.get("DEFAULTTUNE") == "armv7athf-vfpv3d16"
    assert conf.get("SERIAL_CONSOLES") == "115200;ttyS0"
    assert conf.get("KERNEL_IMAGETYPE") == "uImage"
    assert conf.get("KEEPUIMAGE") == "no"
    assert int(conf.get("UBOOT_LOADADDRESS"), 16) == 0x8000
    assert int(conf.get("UBOOT_ENTRYPOINT"), 16) == 0x8000
    assert conf.get("KERNEL_DEVICETREE_BUNDLE") == "1"
    assert "console=ttyS0,115200" in conf.get("LINERATE_BOOTARGS")
    assert conf.get("PREFERRED_PROVIDER_virtual/kernel") == "linux-ndiv"


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_profile_names_the_machine(board):
    profile = board_profile(board)
    machine = profile["kas_machine"]
    assert machine == BOARDS[board]
    assert (ROOT / "conf" / "machine" / f"{machine}.conf").is_file()
    overlay = (ROOT / "board" / board / "kas.yml").read_text()
    assert re.search(rf"^machine: {re.escape(machine)}$", overlay, re.M)


def board_parts(profile: dict, flash: str) -> list[dict]:
    return list(profile["flash"][flash]["partitions"])


def test_ax3_nor_map_matches_the_board_profile():
    profile = board_profile("openblocks-ax3")
    conf = layer_conf.machine_conf("openblocks-ax3")
    _, parts = layer_conf.parse_mtdparts(conf.get("LINERATE_MTDPARTS"))
    expected = board_parts(profile, "nor")
    assert [p.name for p in parts] == [p["name"] for p in expected]
    for part, want in zip(parts, expected, strict=True):
        assert part.offset == want["offset"], part.name
        assert part.size == want["size"], part.name
        assert part.read_only == bool(want.get("read_only")), part.name
    nor = profile["flash"]["nor"]
    assert sum(p.size or 0 for p in parts) == nor["size"], "partitions must cover the NOR"
    assert all(p.offset % nor["erase_block"] == 0 for p in parts)
    assert int(conf.get("LINERATE_UBOOT_NOR_BASE"), 16) == nor["base"]
    slots = {p["slot"]: p for p in expected if "slot" in p}
    assert int(conf.get("LINERATE_NOR_SLOT_SIZE")) == slots["a"]["size"] == slots["b"]["size"]
    assert int(conf.get("LINERATE_NOR_SLOT_A"), 16) == slots["a"]["offset"]
    assert int(conf.get("LINERATE_NOR_SLOT_B"), 16) == slots["b"]["offset"]


def test_ax3_env_location_matches_the_board_profile():
    profile = board_profile("openblocks-ax3")
    conf = layer_conf.machine_conf("openblocks-ax3")
    _, parts = layer_conf.parse_mtdparts(conf.get("LINERATE_MTDPARTS"))
    nor = profile["flash"]["nor"]
    fw_env = ROOT / "recipes/linerate-board/files/openblocks-ax3/fw_env.config"
    lines = [ln.split() for ln in fw_env.read_text().splitlines() if ln and ln[0] != "#"]
    # Redundant (Plat'Home's flashcfg.c): two copies, the second right after the first.
    assert nor["env_redundant"] is True and len(lines) == 2
    index = next(i for i, p in enumerate(parts) if p.name == "vendor")
    assert parts[index].read_only
    for copy, (device, offset, size, sector) in enumerate(lines):
        assert device == f"/dev/mtd{index}"
        want = nor["env_offset"] + copy * nor["env_size"]
        assert parts[index].offset + int(offset, 16) == want
        assert int(size, 16) == nor["env_size"]
        assert int(sector, 16) == nor["erase_block"]
    assert "UNVERIFIED" in fw_env.read_text(), "say it is unverified until checked on hardware"


def test_mirabox_nand_map_matches_the_board_profile():
    profile = board_profile("mirabox")
    conf = layer_conf.machine_conf("mirabox")
    _, parts = layer_conf.parse_mtdparts(conf.get("LINERATE_MTDPARTS"))
    expected = board_parts(profile, "nand")
    assert [p.name for p in parts] == [p["name"] for p in expected]
    for part, want in zip(parts, expected, strict=True):
        assert part.offset == want["offset"], part.name
        if want["size"] == "rest":
            assert part.size is None, part.name
        else:
            assert part.size == want["size"], part.name
        assert part.read_only == bool(want.get("read_only")), part.name
    nand = profile["flash"]["nand"]
    kernel = next(p for p in parts if p.name == "kernel")
    ubi = next(p for p in parts if p.name == "ubi")
    assert int(conf.get("LINERATE_KERNEL_PART_SIZE")) == kernel.size
    assert int(conf.get("KERNEL_IMAGE_MAXSIZE")) * 1024 == kernel.size
    assert int(conf.get("LINERATE_UBI_PART_SIZE")) == nand["size"] - ubi.offset
    assert int(conf.get("LINERATE_NAND_SIZE")) == nand["size"]
    assert int(conf.get("LINERATE_NAND_PEB")) == nand["erase_block"]
    # ubi.mtd=2 by index: the ubi partition is the third.
    assert parts.index(ubi) == 2 and "ubi.mtd=2" in conf.get("LINERATE_BOOTARGS")


def test_mirabox_ubi_geometry_matches_the_nand():
    nand = board_profile("mirabox")["flash"]["nand"]
    conf = layer_conf.machine_conf("mirabox")
    peb, page = nand["erase_block"], nand["page"]
    mkubifs = conf.get("MKUBIFS_ARGS").split()
    ubinize = conf.get("UBINIZE_ARGS").split()

    def arg(args: list[str], flag: str) -> str:
        return args[args.index(flag) + 1]

    assert layer_conf.size_bytes(arg(mkubifs, "-m")) == page
    assert layer_conf.size_bytes(arg(ubinize, "-m")) == page
    assert layer_conf.size_bytes(arg(ubinize, "-p")) == peb
    assert layer_conf.size_bytes(arg(ubinize, "-s")) == page  # no sub-page writes
    # LEB = PEB - EC header page - VID header page
    assert layer_conf.size_bytes(arg(mkubifs, "-e")) == peb - 2 * page
    max_lebs = int(conf.get("LINERATE_UBI_PART_SIZE")) // peb
    assert int(arg(mkubifs, "-c")) <= max_lebs
    assert conf.get("UBI_VOLNAME") == "rootfs" and "root=ubi0:rootfs" in conf.get(
        "LINERATE_BOOTARGS"
    )


def image_conf() -> layer_conf.ConfVars:
    path = ROOT / "images" / "linerate-image.bb"
    return layer_conf.read_conf(path, [path.parent, ROOT])


def test_image_size_limits_fit_the_flash():
    conf = image_conf()
    slot = int(layer_conf.machine_conf("openblocks-ax3").get("LINERATE_NOR_SLOT_SIZE"))
    # The NOR rootfs limit (KiB, uncompressed) is a first guard; the exact check is
    # on the final uImage, against the slot size, and on the UBI image.
    media = (ROOT / "images" / "linerate-image-media.inc").read_text()
    assert 'linerate_check_size "$out" "${LINERATE_NOR_SLOT_SIZE}"' in media
    assert 'IMAGE_POSTPROCESS_COMMAND:append:mirabox = " linerate_check_ubi"' in media
    kernel = KERNEL_BB.read_text()
    assert 'limit="${LINERATE_KERNEL_PART_SIZE}"' in kernel and "bbfatal" in kernel
    assert int(conf.get("IMAGE_ROOTFS_MAXSIZE:openblocks-ax3")) * 1024 <= 4 * slot
    ubi = int(layer_conf.machine_conf("mirabox").get("LINERATE_UBI_PART_SIZE"))
    assert int(conf.get("IMAGE_ROOTFS_MAXSIZE:mirabox")) * 1024 < ubi


@pytest.mark.parametrize(
    ("board", "key", "fstype"),
    [
        ("openblocks-ax3", "nor", "noruimg"),
        ("openblocks-ax3", "ssd", "wic.gz"),
        ("mirabox", "nand-ubi", "ubi"),
    ],
)
def test_board_profile_points_at_what_the_image_deploys(board, key, fstype):
    profile = board_profile(board)
    machine = profile["kas_machine"]
    conf = image_conf()
    assert fstype in conf.get(f"IMAGE_FSTYPES:{machine}").split()
    want = f"build/tmp/deploy/images/{machine}/linerate-image-{machine}.rootfs.{fstype}"
    assert profile["images"][key] == want


def test_mirabox_kernel_image_is_the_deployed_uimage():
    profile = board_profile("mirabox")
    assert profile["images"]["nand-kernel"] == "build/tmp/deploy/images/mirabox/uImage"


def test_distro_is_small_and_console_only():
    distro = layer_conf.read_conf(DISTRO_LAYER / "conf" / "distro" / "linerate.conf")
    assert distro.get("INIT_MANAGER") == "mdev-busybox"
    features = distro.get("DISTRO_FEATURES").split()
    assert not {"x11", "wayland", "systemd", "wifi", "bluetooth"} & set(features)
    installed = image_conf().get("IMAGE_INSTALL").split()
    for login_service in ("dropbear", "openssh", "openssh-sshd", "telnetd"):
        assert login_service not in installed
    securetty = (ROOT / "recipes/linerate-board/files/securetty").read_text().splitlines()
    ttys = [t.strip() for t in securetty if t.strip() and not t.startswith("#")]
    assert ttys and all(t == "console" or t.startswith("ttyS") for t in ttys)
    busybox = (DISTRO_LAYER / "recipes/busybox/files/linerate-securetty.cfg").read_text()
    assert "CONFIG_FEATURE_SECURETTY=y" in busybox


def test_layer_conf_anchors_its_recipes():
    text = (ROOT / "conf" / "layer.conf").read_text()
    assert 'BBFILE_PATTERN_linerate = "^${LAYERDIR}/(recipes|images)/"' in text
    assert 'LAYERDEPENDS_linerate = "core"' in text
    assert 'LINERATE_LAYERDIR := "${LAYERDIR}"' in text


def test_bsp_and_distro_are_separate_layers():
    """yocto-check-layer refuses a layer with both conf/machine and conf/distro: the
    root is the BSP layer, distro/ the distro layer, and neither needs the other."""
    assert sorted(p.stem for p in (ROOT / "conf" / "machine").glob("*.conf")) == sorted(MACHINES)
    assert not (ROOT / "conf" / "distro").exists()
    assert not (DISTRO_LAYER / "conf" / "machine").exists()
    assert [p.stem for p in (DISTRO_LAYER / "conf" / "distro").glob("*.conf")] == ["linerate"]
    distro = layer_conf.read_conf(DISTRO_LAYER / "conf" / "layer.conf")
    assert distro.values["BBFILE_COLLECTIONS"] == "linerate-distro"
    assert distro.values["LAYERDEPENDS_linerate-distro"] == "core"
    assert (
        distro.values["LAYERSERIES_COMPAT_linerate-distro"]
        == (
            layer_conf.read_conf(ROOT / "conf" / "layer.conf").values["LAYERSERIES_COMPAT_linerate"]
        )
    )
    # The distro does not pick the BSP's kernel (its machines do).
    text = (DISTRO_LAYER / "conf" / "distro" / "linerate.conf").read_text()
    assert "linux-ndiv" not in text.replace("(linux-ndiv)", "")
    for name in ("README.md", "SECURITY.md"):
        assert (ROOT / name).is_file(), name
    assert (DISTRO_LAYER / "README.md").is_file()


#: Recipes that build for the linerate machines only (COMPATIBLE_MACHINE).
MACHINE_ONLY = {
    "linux-ndiv",
    "linerate-board",
    "slhttpd-module",
    "slhttpd-config",
    "linerate-image",
}


def recipe_name(path: Path) -> str:
    return path.name.split("_")[0].removesuffix(".bb")


def test_no_recipe_for_every_machine_depends_on_a_machine_only_one():
    """A world build for someone else's machine skips our machine-only recipes: one
    that builds everywhere must not (R)DEPEND on them ("Nothing RPROVIDES ...")."""
    compat = {}
    for recipe in RECIPE_FILES:
        if recipe.suffix != ".bb":
            continue
        conf = layer_conf.read_conf(recipe, [recipe.parent, ROOT])
        compat[recipe_name(recipe)] = conf.get("COMPATIBLE_MACHINE")
    assert {name for name, value in compat.items() if value} == MACHINE_ONLY
    assert set(compat.values()) - {""} == {"^(openblocks-ax3|mirabox)$"}
    for recipe in RECIPE_FILES:
        if recipe.suffix != ".bb" or compat[recipe_name(recipe)]:
            continue
        conf = layer_conf.read_conf(recipe, [recipe.parent, ROOT])
        wanted = set()
        for var, assignments in conf.history.items():
            if var.split(":")[0] in ("DEPENDS", "RDEPENDS", "RRECOMMENDS", "IMAGE_INSTALL"):
                wanted |= {w for _op, value in assignments for w in value.split()}
        assert not wanted & MACHINE_ONLY, f"{recipe.name} builds for every machine"
    # Machine-only packages that depend on other machine-only ones are per machine
    # (not allarch): both linerate machines may share no such package.
    config = (ROOT / "recipes/slhttpd/slhttpd-config_0.1.bb").read_text()
    assert "allarch" not in config and 'PACKAGE_ARCH = "${MACHINE_ARCH}"' in config


KERNEL_UNPINNED = "0" * 40


def test_kernel_srcrev_parses_offline_and_fetch_names_the_pin_step():
    """SRCREV is a full commit (bitbake resolves nothing while parsing) and the tag
    stays in SRC_URI (bitbake checks it names that commit); unpinned, do_fetch stops
    with the step to run."""
    conf = layer_conf.read_conf(KERNEL_BB, [KERNEL_BB.parent, ROOT])
    assert re.fullmatch(r"[0-9a-f]{40}", conf.get("SRCREV"))
    assert ";tag=v${LINUX_VERSION}" in conf.values["SRC_URI"]
    assert conf.get("LINERATE_KERNEL_UNPINNED") == KERNEL_UNPINNED
    text = KERNEL_BB.read_text()
    assert 'do_fetch[prefuncs] += "linerate_check_kernel_pin"' in text
    assert "linerate build --pin-kernel" in text


def test_ax3_boot_commands_copy_the_slot_to_ram_first():
    """The profile's boot_a/boot_b (what the flasher writes, addresses from the unit's
    survey) and the layer's bootcmd copy the NOR slot the image is sized for to RAM and
    bootm there: never in place (an ATAG-era U-Boot would hand Linux an initrd in NOR)."""
    profile = board_profile("openblocks-ax3")
    conf = layer_conf.machine_conf("openblocks-ax3")
    base = int(conf.get("LINERATE_UBOOT_NOR_BASE"), 16)
    size = int(conf.get("LINERATE_NOR_SLOT_SIZE"))
    ram = int(conf.get("LINERATE_RAM_LOAD"), 16)
    assert ram == profile["uboot"]["load_address"]
    env = profile["uboot"]["env"]
    commands = []
    for which in ("a", "b"):
        slot = base + int(conf.get(f"LINERATE_NOR_SLOT_{which.upper()}"), 16)
        assert env[f"boot_{which}"].endswith(
            f"cp.b @slot_{which}@ @load@ @slot_{which}_size@; bootm @load@"
        )
        commands.append(f"cp.b {slot:#x} {ram:#x} {size:#x}; bootm {ram:#x}")
    assert conf.get("LINERATE_BOOTCMD") == "; ".join(commands)


def test_mirabox_boot_command_reads_the_kernel_partition():
    profile = board_profile("mirabox")
    conf = layer_conf.machine_conf("mirabox")
    _, parts = layer_conf.parse_mtdparts(conf.get("LINERATE_MTDPARTS"))
    kernel = next(p for p in parts if p.name == "kernel")
    assert f"nand read 0x2000000 {kernel.offset:#x} {kernel.size:#x}" in conf.get(
        "LINERATE_BOOTCMD"
    )
    assert profile["uboot"]["bootcmd"].endswith(conf.get("LINERATE_BOOTCMD"))


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_profile_bootargs_are_the_layers(board):
    """The flasher writes linerate_bootargs; the build deploys LINERATE_BOOTARGS
    in *.uboot-env.txt: the same line (mtdparts, root, console)."""
    profile = board_profile(board)
    conf = layer_conf.machine_conf(profile["kas_machine"])
    assert profile["uboot"]["env"]["linerate_bootargs"] == conf.get("LINERATE_BOOTARGS")
