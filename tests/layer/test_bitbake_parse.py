"""bitbake parses the layer for both machines and plans linerate-image.

Runs only with the third-party layers checked out kas-style in
$LINERATE_LAYERS_DIR (openembedded-core/ and bitbake/, at the commits kas.yml
pins), as an unprivileged user, with BB_NO_NETWORK = "1". A cold parse takes
1-3 minutes per machine on two cores.

The first machine parses all of oe-core; the second only the recipes of the
first one's image plan (87 of oe-core's 1,047; our layers' recipes always):
about 25 s instead of 200 s cold. Whatever it needs beyond them fails its plan
("Nothing PROVIDES"), and it is planned again with all of oe-core.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from layerlib import MACHINES, ROOT, pinned_layers

from linerate.errors import LinerateError
from linerate.layer import kernel_pin
from linerate.layer import parse as layer_parse

#: Recipes and image tasks each machine's linerate-image must pull in.
EXPECTED_RECIPES = {
    "linux-ndiv",
    "slhttpd-module",
    "slhttpd-config",
    "linerate-board",
    "libubootenv",
    "busybox",
    "u-boot-tools-native",
}
EXPECTED_TASKS = {
    "openblocks-ax3": {
        "linerate-image.do_image_noruimg",
        "linerate-image.do_image_wic",
        "linerate-image.do_image_cpio",
        "linerate-image.do_linerate_uboot_env",
        "linux-ndiv.do_uboot_mkimage",
    },
    "mirabox": {
        "linerate-image.do_image_ubi",
        "linerate-image.do_image_ubifs",
        "linerate-image.do_linerate_uboot_env",
        "linux-ndiv.do_uboot_mkimage",
    },
}


@pytest.fixture(scope="module")
def layers() -> layer_parse.Layers:
    found = pinned_layers(" to parse with (kas checkout kas.yml puts them in layers/)")
    problems = found.problems()
    assert not problems, f"{layer_parse.LAYERS_ENV}={found.root}: missing {problems}"
    return found


def test_layers_are_at_the_pinned_commits(layers):
    repos = yaml.safe_load((ROOT / "kas.yml").read_text())["repos"]
    for name, path in (("openembedded-core", layers.oe_core), ("bitbake", layers.bitbake)):
        head = layer_parse.git_head(path)
        assert head == repos[name]["commit"], (
            f"{path} is at {head or 'no git commit'}, kas.yml pins {repos[name]['commit']}: "
            "check out the pinned commit (kas checkout kas.yml)"
        )


@pytest.fixture(scope="module")
def build_root() -> Path:
    path = layer_parse.workspace() / "bitbake-parse"
    path.mkdir(parents=True, exist_ok=True)
    return path


#: The oe-core recipes of the first machine's image plan (filled by its test).
_FIRST_PLAN: dict[str, set[Path]] = {}


def _oe_core_only(machine: str) -> set[Path] | None:
    """What the machine's build parses of oe-core: all for the first machine (or
    when its plan is unknown: this machine's tests alone), else the first plan's."""
    if machine == MACHINES[0]:
        return None
    return _FIRST_PLAN.get(MACHINES[0])


@pytest.mark.parametrize("machine", MACHINES)
def test_bitbake_parses_and_plans_the_image(machine, layers, build_root):
    build = build_root / machine
    shutil.rmtree(build / "conf", ignore_errors=True)
    only = _oe_core_only(machine)
    layer_parse.write_build_conf(build, ROOT, layers, machine, only)
    # -g first: it parses and keeps the parse cache, which -p then reuses
    # (bitbake -p alone does not save it, so the other order parses twice).
    try:
        graph = layer_parse.task_graph(build, layers, "linerate-image")
    except LinerateError as e:
        if only is None or "Nothing PROVIDES" not in str(e):
            raise
        print(f"{machine} needs more of oe-core than {MACHINES[0]}: planned with all of it")
        _FIRST_PLAN.pop(MACHINES[0])
        layer_parse.write_build_conf(build, ROOT, layers, machine)
        graph = layer_parse.task_graph(build, layers, "linerate-image")
    if machine == MACHINES[0]:
        _FIRST_PLAN[machine] = layer_parse.recipe_files(build)
    assert EXPECTED_RECIPES <= graph.recipes, EXPECTED_RECIPES - graph.recipes
    assert EXPECTED_TASKS[machine] <= graph.tasks, EXPECTED_TASKS[machine] - graph.tasks
    # No network login daemon and no systemd in the plan.
    assert not {"dropbear", "openssh", "systemd"} & graph.recipes
    parsed = layer_parse.bitbake(build, layers, ["-p"])
    output = parsed.stdout + parsed.stderr
    assert parsed.returncode == 0, f"bitbake -p for {machine} failed:\n{output[-6000:]}"
    assert "WARNING" not in output and "ERROR" not in output, output[-6000:]
    assert re.search(r"Loaded \d+ entries from dependency cache", output), output[-6000:]


#: Kernel settings as bitbake resolves them (bitbake -e linux-ndiv).
KERNEL_VALUES = {
    "KERNEL_IMAGETYPES": "zImage uImage",
    "KERNEL_IMAGETYPE_FOR_MAKE": "vmlinux zImage",
    "KEEPUIMAGE": "no",
    "UBOOT_LOADADDRESS": "0x00008000",
    "DEFAULTTUNE": "armv7athf-vfpv3d16",
    "PREFERRED_PROVIDER_virtual/kernel": "linux-ndiv",
    "DISTRO": "linerate",
}


@pytest.mark.parametrize("machine", MACHINES)
def test_kernel_recipe_resolves_for_the_vendor_uboot(machine, layers, build_root):
    build = build_root / machine
    layer_parse.write_build_conf(build, ROOT, layers, machine, _oe_core_only(machine))
    result = layer_parse.bitbake(build, layers, ["-e", "linux-ndiv"])
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    values = dict(re.findall(r'^([A-Za-z0-9_/:-]+)="(.*)"$', result.stdout, re.M))
    for name, want in KERNEL_VALUES.items():
        assert values.get(name, "").strip() == want, name
    assert values["PV"] == values["LINUX_VERSION"]
    assert "-mfpu=vfpv3-d16" in values["TUNE_CCARGS"]
    assert values["KERNEL_DEVICETREE"].endswith(".dtb")
    # do_sizecheck measures the uImage, so it runs after do_uboot_mkimage.
    graph = layer_parse.task_graph(build, layers, "linux-ndiv")
    assert "linux-ndiv.do_uboot_mkimage" in graph.tasks
    dot = (build / "task-depends.dot").read_text()
    assert '"linux-ndiv.do_sizecheck" -> "linux-ndiv.do_uboot_mkimage"' in dot


@pytest.mark.parametrize("machine", MACHINES)
def test_distro_resolves_small(machine, layers, build_root):
    """What bitbake makes of the distro and the image: busybox init, no extra features."""
    build = build_root / machine
    layer_parse.write_build_conf(build, ROOT, layers, machine, _oe_core_only(machine))
    result = layer_parse.bitbake(build, layers, ["-e", "linerate-image"])
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    values = dict(re.findall(r'^([A-Za-z0-9_/:-]+)="(.*)"$', result.stdout, re.M))
    assert set(values["DISTRO_FEATURES"].split()) == {"ipv4", "ipv6", "ext2", "vfat"}
    assert values["VIRTUAL-RUNTIME_init_manager"] == "busybox"
    assert values["VIRTUAL-RUNTIME_dev_manager"] == "busybox-mdev"
    assert values["IMAGE_FEATURES"].split() == ["empty-root-password"]
    fstypes = {
        "openblocks-ax3": {"cpio.gz", "noruimg", "wic", "wic.gz", "wic.bmap"},
        "mirabox": {"ubi"},
    }[machine]
    assert set(values["IMAGE_FSTYPES"].split()) == fstypes


def test_unpinned_kernel_parses_and_its_fetch_names_the_pin_step(layers, build_root):
    """No stand-in SRCREV: the recipe parses offline as it is (the tests above), and
    while it is unpinned, its do_fetch stops before any git command with the step to
    run (bitbake -b: this recipe's task alone, without building git-native first)."""
    pin = kernel_pin.read_pin()
    if pin.pinned:
        pytest.skip(f"linux-ndiv is pinned ({pin.srcrev}): the fetch goes to the network")
    build = build_root / MACHINES[0]
    layer_parse.write_build_conf(build, ROOT, layers, MACHINES[0])
    assert "SRCREV" not in (build / "conf" / "local.conf").read_text()
    result = layer_parse.bitbake(build, layers, ["-b", str(kernel_pin.KERNEL_BB), "-c", "fetch"])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-6000:]
    assert "SRCREV is not pinned yet" in output, output[-6000:]
    assert "python -m linerate build --pin-kernel" in output
    assert "ls-remote" not in output and "git clone" not in output
