"""The layer's packing shell functions, run for real with mkimage.

BitBake runs these functions with ${VAR} expanded and its bbfatal/bbplain
helpers; here the same bodies, cut from the recipe files, run under bash with
test values, the real mkimage (uboot-mkimage in oe-core) and dumpimage to read
the result back.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from layerlib import ROOT

MEDIA = ROOT / "images" / "linerate-image-media.inc"
KERNEL_BB = ROOT / "recipes" / "linux-ndiv" / "linux-ndiv_6.12.bb"
PRELUDE = """
bbfatal() { echo "FATAL: $*" >&2; exit 1; }
bbplain() { echo "$*"; }
bberror() { echo "ERROR: $*" >&2; }
set -e
"""


def function_body(path: Path, name: str) -> str:
    text = path.read_text()
    m = re.search(rf"^{re.escape(name)}\(\) \{{\n(.*?)^\}}\n", text, re.S | re.M)
    assert m, f"{name}() not found in {path.name}"
    return f"{name}() {{\n{m.group(1)}}}\n"


def expand(body: str, values: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in values, f"test gives no value for ${{{name}}}"
        return values[name]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, body)


def run_functions(tmp: Path, bodies: list[str], call: str) -> subprocess.CompletedProcess[str]:
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    mkimage = shutil.which("mkimage")
    assert mkimage
    link = bindir / "uboot-mkimage"
    if not link.exists():
        link.symlink_to(mkimage)
    script = PRELUDE + "".join(bodies) + call + "\n"
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": f"{bindir}:/usr/bin:/bin"},
    )


@pytest.fixture(autouse=True)
def tools():
    if not shutil.which("mkimage") or not shutil.which("dumpimage"):
        pytest.skip("needs: apt-get install u-boot-tools")


def listing(image: Path) -> str:
    return subprocess.run(
        ["dumpimage", "-l", str(image)], capture_output=True, text=True, timeout=30, check=True
    ).stdout


def nor_values(tmp: Path, slot_size: int) -> dict[str, str]:
    deploy, imgdeploy = tmp / "deploy", tmp / "imgdeploy"
    deploy.mkdir(exist_ok=True)
    imgdeploy.mkdir(exist_ok=True)
    (deploy / "zImage-armada-xp-openblocks-ax3-4.dtb.bin").write_bytes(b"Z" * 300_000)
    (imgdeploy / "linerate-image-openblocks-ax3.rootfs.cpio.gz").write_bytes(b"C" * 200_000)
    return {
        "DEPLOY_DIR_IMAGE": str(deploy),
        "IMGDEPLOYDIR": str(imgdeploy),
        "IMAGE_NAME": "linerate-image-openblocks-ax3.rootfs",
        "LINERATE_ZIMAGE_DTB": "zImage-armada-xp-openblocks-ax3-4.dtb.bin",
        "UBOOT_ARCH": "arm",
        "UBOOT_LOADADDRESS": "0x00008000",
        "UBOOT_ENTRYPOINT": "0x00008000",
        "DISTRO_NAME": "linerate",
        "DISTRO_VERSION": "0.1",
        "MACHINE": "openblocks-ax3",
        "LINERATE_NOR_SLOT_SIZE": str(slot_size),
    }


def nor_image(tmp: Path, slot_size: int) -> subprocess.CompletedProcess[str]:
    values = nor_values(tmp, slot_size)
    bodies = [
        expand(
            function_body(MEDIA, "IMAGE_CMD:noruimg").replace("IMAGE_CMD:noruimg", "nor"), values
        ),
        function_body(MEDIA, "linerate_check_size"),
    ]
    return run_functions(tmp, bodies, "nor")


def test_nor_image_is_a_multi_uimage_of_kernel_and_initramfs(tmp_path):
    result = nor_image(tmp_path, 16 * 1024 * 1024)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "imgdeploy" / "linerate-image-openblocks-ax3.rootfs.noruimg"
    info = listing(out)
    assert "Multi-File Image" in info
    assert "Load Address: 00008000" in info and "Entry Point:  00008000" in info
    assert "Image 0: 300000 Bytes" in info and "Image 1: 200000 Bytes" in info
    assert f"noruimg: {out.stat().st_size} bytes; NOR slot" in result.stdout


def test_nor_image_larger_than_the_slot_fails_the_build(tmp_path):
    result = nor_image(tmp_path, 400_000)
    assert result.returncode != 0
    assert "does not fit the 400000-byte NOR slot" in result.stderr


def kernel_values(tmp: Path, limit: str) -> dict[str, str]:
    boot = tmp / "b" / "arch" / "arm" / "boot"
    (boot / "dts" / "marvell").mkdir(parents=True, exist_ok=True)
    (boot / "zImage").write_bytes(b"Z" * 100_000)
    (boot / "dts" / "marvell" / "armada-370-mirabox.dtb").write_bytes(b"D" * 20_000)
    return {
        "B": str(tmp / "b"),
        "ARCH": "arm",
        "KERNEL_DEVICETREE": "marvell/armada-370-mirabox.dtb",
        "UBOOT_ARCH": "arm",
        "UBOOT_LOADADDRESS": "0x00008000",
        "UBOOT_ENTRYPOINT": "0x00008000",
        "DISTRO_NAME": "linerate",
        "PV": "6.12.117",
        "MACHINE": "mirabox",
        "LINERATE_KERNEL_PART_SIZE": limit,
    }


def kernel_uimage(tmp: Path, limit: str) -> subprocess.CompletedProcess[str]:
    values = kernel_values(tmp, limit)
    mk = expand(function_body(KERNEL_BB, "do_uboot_mkimage"), values)
    deploy = expand(function_body(KERNEL_BB, "do_deploy:append"), values)
    return run_functions(
        tmp, [mk, deploy.replace("do_deploy:append", "deploy")], "do_uboot_mkimage; deploy"
    )


def test_kernel_uimage_is_zimage_with_the_dtb_appended(tmp_path):
    result = kernel_uimage(tmp_path, "4194304")
    assert result.returncode == 0, result.stderr
    image = tmp_path / "b" / "arch" / "arm" / "boot" / "uImage"
    info = listing(image)
    assert "Kernel Image" in info and "(uncompressed)" in info
    assert "Load Address: 00008000" in info and "Entry Point:  00008000" in info
    assert "Data Size:    120000 Bytes" in info
    payload = image.read_bytes()[64:]
    assert payload == b"Z" * 100_000 + b"D" * 20_000
    assert f"uImage for mirabox: {image.stat().st_size} bytes" in result.stdout


def test_kernel_larger_than_its_partition_fails_the_build(tmp_path):
    result = kernel_uimage(tmp_path, "100000")
    assert result.returncode != 0
    assert "more than the 100000-byte kernel partition of mirabox" in result.stderr


def test_kernel_without_partition_limit_only_prints_the_size(tmp_path):
    result = kernel_uimage(tmp_path, "")
    assert result.returncode == 0, result.stderr


def config_check(
    tmp: Path, config: str, fragments: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    build = tmp / "b"
    build.mkdir(exist_ok=True)
    (build / ".config").write_text(config)
    paths = []
    for name, text in fragments.items():
        (tmp / name).write_text(text)
        paths.append(str(tmp / name))
    body = expand(
        function_body(KERNEL_BB, "do_configure:append"),
        {"B": str(build), "LINERATE_FRAGMENTS": " ".join(paths)},
    )
    return run_functions(tmp, [body.replace("do_configure:append", "check")], "check")


FRAGMENT = """# comment
CONFIG_NDIV=y
CONFIG_CMDLINE="console=ttyS0,115200 quiet"
# CONFIG_ARM_LPAE is not set
CONFIG_ARM_APPENDED_DTB=y
"""


def test_kernel_config_check_accepts_a_config_with_every_fragment_option(tmp_path):
    config = (
        'CONFIG_NDIV=y\nCONFIG_CMDLINE="console=ttyS0,115200 quiet"\n'
        "# CONFIG_ARM_LPAE is not set\nCONFIG_ARM_APPENDED_DTB=y\nCONFIG_MMU=y\n"
    )
    result = config_check(tmp_path, config, {"a.cfg": FRAGMENT})
    assert result.returncode == 0, result.stderr


def test_kernel_config_check_names_dropped_and_unwanted_options(tmp_path):
    config = 'CONFIG_CMDLINE="console=ttyS0,115200"\nCONFIG_ARM_LPAE=y\nCONFIG_ARM_APPENDED_DTB=y\n'
    result = config_check(tmp_path, config, {"a.cfg": FRAGMENT})
    assert result.returncode != 0
    assert "a.cfg: CONFIG_NDIV=y is not in the final .config" in result.stderr
    assert 'a.cfg: CONFIG_CMDLINE="console=ttyS0,115200 quiet" is not in' in result.stderr
    assert "a.cfg: CONFIG_ARM_LPAE should be unset but is CONFIG_ARM_LPAE=y" in result.stderr
    assert "FATAL: kernel configuration does not match the fragments" in result.stderr


def test_kernel_config_check_requires_the_appended_dtb(tmp_path):
    result = config_check(tmp_path, "CONFIG_MMU=y\n", {})
    assert result.returncode != 0
    assert "CONFIG_ARM_APPENDED_DTB=y is required" in result.stderr


def test_kernel_configure_functions_on_the_pinned_source(tmp_path):
    """do_configure's prepend (defconfig + merge_config.sh of the .inc's fragments),
    olddefconfig as kernel.bbclass runs it, then the append's check: on the
    patched source `linerate kernel` prepared, read-only (output in O=)."""
    import json

    from linerate.kernel.inputs import parse_inc
    from linerate.kernel.source import source_dir, source_key

    inputs = parse_inc()
    src = source_dir(inputs)
    stamp = src / ".linerate-source.json"
    if not stamp.is_file() or json.loads(stamp.read_text()).get("key") != source_key(inputs):
        pytest.skip(f"no prepared source at {src}: run `linerate kernel` first")
    if shutil.which("arm-linux-gnueabihf-gcc") is None:
        pytest.skip("needs: apt-get install gcc-arm-linux-gnueabihf")
    build = tmp_path / "b"
    build.mkdir()
    values = {
        "S": str(src),
        "B": str(build),
        "KBUILD_DEFCONFIG": inputs.defconfig,
        "LINERATE_FRAGMENTS": " ".join(str(p) for p in inputs.fragments),
    }
    prepend = expand(function_body(KERNEL_BB, "do_configure:prepend"), values)
    append = expand(function_body(KERNEL_BB, "do_configure:append"), values)
    make = "make -s ARCH=arm CROSS_COMPILE=arm-linux-gnueabihf-"
    script = (
        f'oe_runmake() {{ {make} "$@"; }}\n'
        + prepend.replace("do_configure:prepend", "prepend")
        + append.replace("do_configure:append", "append")
    )
    call = f"prepend && {make} -C {src} O={build} olddefconfig && append"
    result = run_functions(tmp_path, [script], call)
    assert result.returncode == 0, result.stderr[-4000:]
    config = (build / ".config").read_text()
    assert "CONFIG_NDIV=y" in config and "CONFIG_MVNETA=y" in config
