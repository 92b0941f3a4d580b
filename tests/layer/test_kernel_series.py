"""The ndiv patch series: well-formed, listed in linux-ndiv.inc, checkpatch
clean and applying, in order, to the pinned Debian kernel source."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.kernel.inputs import FILES_DIR, INC_PATH, parse_inc
from linerate.kernel.source import (
    apply_series,
    check_source_version,
    installed_source_version,
    tarball_path,
)

INPUTS = parse_inc()
PATCHES = INPUTS.patches
PINNED = f"{INPUTS.debian_package}={INPUTS.debian_version}"


def test_inc_pins_version_and_lists_every_patch():
    assert re.fullmatch(r"6\.12\.\d+", INPUTS.version)
    assert INPUTS.debian_version.startswith(INPUTS.version + "-")
    on_disk = sorted(p.name for p in FILES_DIR.glob("*.patch"))
    listed = [p.name for p in PATCHES]
    assert sorted(listed) == on_disk, "patches in files/ and SRC_URI in linux-ndiv.inc differ"
    assert listed == sorted(listed), "SRC_URI must list the patches in series order"
    numbers = [int(n.split("-", 1)[0]) for n in listed]
    assert numbers == list(range(1, len(numbers) + 1)), "patch numbers must be 0001.. in order"
    assert {f.name for f in INPUTS.fragments} >= {"ndiv.cfg"}
    assert (FILES_DIR / "virt.cfg").is_file()


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name[:4])
def test_patch_header(patch: Path):
    text = patch.read_text()
    head = text.split("\n---\n", 1)[0]
    assert text.startswith("From "), f"{patch.name}: not git format-patch output"
    assert re.search(r"^Subject: \[PATCH", head, re.M), f"{patch.name}: no Subject"
    assert re.search(r"^Signed-off-by: .+ <.+@.+>$", head, re.M), f"{patch.name}: no Signed-off-by"
    assert re.search(
        r"^Upstream-Status: Inappropriate \[linerate appliance specific\]$", head, re.M
    ), f"{patch.name}: no Upstream-Status"
    assert "\n---\n" in text and "diff --git" in text, f"{patch.name}: no diff"


@pytest.fixture(scope="module")
def pristine_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tarball = tarball_path(INPUTS)
    installed = installed_source_version(INPUTS)
    if installed is None or not tarball.is_file():
        pytest.skip(f"{PINNED} is not installed (make test installs it: apt-get install {PINNED})")
    assert installed == INPUTS.debian_version, (
        f"{INPUTS.debian_package} {installed} is installed but linux-ndiv.inc pins "
        f"{INPUTS.debian_version}: apt-get install {PINNED}"
    )
    dest = tmp_path_factory.mktemp("kernel")
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(dest)], check=True, timeout=600)
    (src,) = [p for p in dest.iterdir() if p.is_dir()]
    check_source_version(src, INPUTS)
    return src


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name[:4])
def test_checkpatch_clean(pristine_source: Path, patch: Path):
    res = subprocess.run(
        ["perl", "scripts/checkpatch.pl", "--strict", str(patch)],
        cwd=pristine_source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    total = re.search(r"^total: (\d+) errors, (\d+) warnings, (\d+) checks", res.stdout, re.M)
    assert total, f"checkpatch gave no verdict for {patch.name}:\n{res.stdout}{res.stderr}"
    assert total.groups() == ("0", "0", "0"), f"{patch.name}:\n{res.stdout}"
    assert res.returncode == 0


def test_series_applies_in_order(pristine_source: Path, tmp_path: Path):
    log = tmp_path / "patch.log"
    apply_series(pristine_source, PATCHES, log)
    assert (pristine_source / "include/linux/ndiv.h").is_file()
    assert (pristine_source / "net/core/ndiv.c").is_file()
    assert (
        "ndiv_rx("
        in (pristine_source / "drivers/net/ethernet/intel/e1000/e1000_main.c").read_text()
    )
    mvneta = (pristine_source / "drivers/net/ethernet/marvell/mvneta.c").read_text()
    assert mvneta.count("mvneta_ndiv_rx(") == 3  # definition + swbm + hwbm
    assert "eth_bootloader_mac_address" in mvneta
    assert not list(pristine_source.rglob("*.rej")), "rejected hunks left behind"


def test_inc_is_what_yocto_reads():
    text = INC_PATH.read_text()
    assert 'LINUX_VERSION = "' in text
    assert "FILESEXTRAPATHS:prepend" in text


def test_a_patch_that_does_not_apply_is_named(tmp_path: Path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "file.c").write_text("int a;\n")
    good = tmp_path / "0001-good.patch"
    good.write_text("--- a/file.c\n+++ b/file.c\n@@ -1 +1,2 @@\n int a;\n+int b;\n")
    bad = tmp_path / "0002-bad.patch"
    bad.write_text("--- a/file.c\n+++ b/file.c\n@@ -1 +1 @@\n-int zzz;\n+int c;\n")
    with pytest.raises(LinerateError, match="0002-bad.patch does not apply"):
        apply_series(tree, (good, bad), tmp_path / "log")
    assert (tree / "file.c").read_text() == "int a;\nint b;\n"


def test_slhttpd_module_checkpatch_clean(pristine_source: Path):
    module = ROOT / "slhttpd" / "kernel" / "slhttpd_main.c"
    res = subprocess.run(
        ["perl", "scripts/checkpatch.pl", "--strict", "--no-tree", "-f", str(module)],
        cwd=pristine_source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "total: 0 errors, 0 warnings, 0 checks" in res.stdout, res.stdout
