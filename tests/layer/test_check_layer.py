"""The Yocto Project Compatible check: fast parts here, the full run is `make check-layer`.

The full yocto-check-layer run (BSP layer with both machines, distro layer)
takes about 50 minutes on 2 cores, so `make test` does not run it: `make
check-layer` does (linerate/layer/check.py). Here, in seconds: how
yocto-check-layer's own code sees the two layers (one BSP, one distro layer,
their collections and dependencies, every patch's Upstream-Status), the files
its tests look for, and the check's snapshot and build configuration.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from layerlib import MACHINES, ROOT, pinned_layers

from linerate.layer import check
from linerate.layer import parse as layer_parse


@pytest.fixture(scope="module")
def layers() -> layer_parse.Layers:
    return pinned_layers(" (yocto-check-layer is oe-core's)")


def test_yocto_check_layer_sees_one_bsp_and_one_distro_layer(layers):
    detected = {d["path"]: d for d in check.detect(layers, [ROOT, ROOT / check.DISTRO_LAYER])}
    bsp = detected[str(ROOT)]
    distro = detected[str(ROOT / check.DISTRO_LAYER)]
    # "Can't be DISTRO and BSP type at the same time" was ERROR_BSP_DISTRO.
    assert bsp["type"] == "BSP" and bsp["machines"] == sorted(MACHINES)
    assert distro["type"] == "DISTRO" and distro["distros"] == ["linerate"]
    assert bsp["collections"] == {"linerate": {"compat": "wrynose", "depends": "core"}}
    assert distro["collections"] == {"linerate-distro": {"compat": "wrynose", "depends": "core"}}
    # Only oe-core needed: each can be checked (and used) without the other.
    assert bsp["layer_depends"] == [] and distro["layer_depends"] == []
    # test_patches_upstream_status walks the whole layer directory (board/ too).
    assert bsp["bad_patches"] == [] and distro["bad_patches"] == []


def test_readme_and_security_files_as_yocto_check_layer_reads_them():
    """test_readme: README in the layer, not empty, with maintainer, patch and an
    e-mail address unless it refers to another README; test_security: SECURITY*
    in the layer or at the top of its git repository."""
    for layer in (ROOT, ROOT / check.DISTRO_LAYER):
        readme = sorted(layer.glob("[Rr][Ee][Aa][Dd][Mm][Ee]*"))[0].read_text()
        assert readme.strip()
        if "readme" not in readme.lower():
            text = readme.lower()
            assert "maintainer" in text and "patch" in text and "@" in text
    security = ROOT / "SECURITY.md"
    assert security.stat().st_size > 0
    text = security.read_text()
    assert "Reporting a vulnerability" in text and "In scope" in text
    assert "SLHTTPD" in text and "layer" in text


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()


def test_snapshot_copies_what_git_would_commit_and_is_its_own_repository(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    (repo / ".gitignore").write_text("/build/\n")
    (repo / "conf").mkdir()
    (repo / "conf" / "layer.conf").write_text("tracked\n")
    (repo / "SECURITY.md").write_text("untracked, not ignored\n")
    (repo / "build").mkdir()
    (repo / "build" / "big").write_text("ignored\n")
    git("add", ".gitignore", "conf/layer.conf", cwd=repo)
    dest = check.snapshot(repo, tmp_path / "snap")
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if ".git" not in p.parts)
    assert files == [".gitignore", "SECURITY.md", "conf", "conf/layer.conf"]
    assert git("rev-parse", "--show-toplevel", cwd=dest / "conf") == str(dest)


def test_check_configuration_is_oe_cores_default_offline(tmp_path):
    layers = layer_parse.Layers(tmp_path / "layers")
    check.write_check_conf(tmp_path / "build", layers)
    local = (tmp_path / "build" / "conf" / "local.conf").read_text()
    # yocto-check-layer sets MACHINE in the environment: the default must be weak.
    assert 'MACHINE ??= "qemux86-64"' in local and "DISTRO" not in local
    assert 'BB_NO_NETWORK = "1"' in local
    bblayers = (tmp_path / "build" / "conf" / "bblayers.conf").read_text()
    # The layers under test must not be in BBLAYERS (the script adds them).
    assert f'BBLAYERS = "{layers.oe_core / "meta"}"' in bblayers
    cmd = check.command(layers, tmp_path / "linerate", tmp_path / "linerate" / "distro")
    assert cmd[1:] == [
        "--no-auto",
        "--machines",
        *MACHINES,
        "--",
        str(tmp_path / "linerate"),
        str(tmp_path / "linerate" / "distro"),
    ]


def test_check_layer_without_layers_skips_with_the_reason(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "linerate.layer.check"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "LINERATE_LAYERS_ARCHIVE": str(tmp_path / "absent.tar.xz"),
            "LINERATE_CACHE": str(tmp_path / "cache"),
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("check-layer: SKIPPED: no third-party layers"), result.stdout
