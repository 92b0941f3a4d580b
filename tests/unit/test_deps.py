"""scripts/deps.sh on a machine that lacks packages: it installs them (apt-get replaced
by a recorder here), and a failing step names itself and says what to check.

The first test fails on the set-up as it was (dpkg-query's exit status 1 for a package
it does not know aborted the script before anything was installed, with no message)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from linerate import ROOT

MISSING = "linerate-no-such-package"
PRESENT = "bash"  # installed on every Debian machine


def _sandbox(tmp_path: Path, apt_status: int = 0) -> tuple[Path, dict[str, str], Path]:
    """A copy of the set-up with a package list of one missing and one installed
    package, and PATH starting with a recording apt-get (and an id that says root)."""
    tree = tmp_path / "project"
    (tree / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "deps.sh", tree / "scripts" / "deps.sh")
    (tree / "scripts" / "apt-packages.txt").write_text(f"# test list\n{MISSING}\n{PRESENT}\n")
    fake = tmp_path / "bin"
    fake.mkdir()
    record = tmp_path / "apt-get.calls"
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "$*" >>{record}\nexit {apt_status}\n')
    (fake / "id").write_text('#!/bin/sh\n[ "$1" = -u ] && echo 0 || /usr/bin/id "$@"\n')
    for f in fake.iterdir():
        f.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", DEPS_STAMPS=str(tmp_path / "st"))
    return tree, env, record


def _deps(tree: Path, env: dict[str, str], *steps: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(tree / "scripts" / "deps.sh"), *steps],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(autouse=True)
def _needs_dpkg():
    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query missing: not a Debian machine")


def test_a_missing_package_is_installed(tmp_path):
    tree, env, record = _sandbox(tmp_path)
    result = _deps(tree, env, "apt")
    calls = record.read_text().splitlines() if record.exists() else []
    installs = [c for c in calls if " install " in f" {c} "]
    assert installs, f"apt-get install never ran: {calls}\n{result.stdout}{result.stderr}"
    assert MISSING in installs[0].split() and PRESENT not in installs[0].split()
    assert any(c.split()[-1] == "update" for c in calls), calls
    # The recorder installs nothing: the script sees it and says so, naming the step.
    assert result.returncode == 1
    assert f"step 'apt': still not installed after apt-get install: {MISSING}" in result.stderr
    assert not any((tmp_path / "st").glob("apt-*")), "a failed step must not leave its stamp"


def test_a_failing_apt_get_names_the_step_and_what_to_check(tmp_path):
    tree, env, record = _sandbox(tmp_path, apt_status=100)
    result = _deps(tree, env, "apt")
    assert result.returncode == 1
    # A failed update alone does not stop the install (a mirror mid-sync fails one index).
    assert any(" install " in f" {c} " for c in record.read_text().splitlines())
    assert "step 'apt': apt-get install failed" in result.stderr
    assert "apt-get update reported errors too: check /etc/apt/sources.list*" in result.stderr
    assert f"install by hand: apt-get install {MISSING}" in result.stderr


def test_nothing_missing_installs_nothing_and_leaves_a_stamp(tmp_path):
    tree, env, record = _sandbox(tmp_path)
    (tree / "scripts" / "apt-packages.txt").write_text(f"{PRESENT}\n")
    result = _deps(tree, env, "apt")
    assert result.returncode == 0, result.stderr
    assert not record.exists()
    assert len(list((tmp_path / "st").glob("apt-*"))) == 1


def test_an_unknown_step_is_refused(tmp_path):
    tree, env, _ = _sandbox(tmp_path)
    result = _deps(tree, env, "no-such-step")
    assert result.returncode == 1 and "unknown step 'no-such-step'" in result.stderr


@pytest.mark.parametrize(
    ("status", "installs"),
    [
        ("deinstall ok config-files 1:10.0.2+ds-2+deb13u1~bpo12+1", True),  # removed
        ("install ok installed 1:7.2+dfsg-7+deb12u18+b3", True),  # bookworm's QEMU 7.2
        ("install ok installed 1:10.0.2+ds-2+deb13u1~bpo12+1", False),
    ],
    ids=["removed-qemu-10", "qemu-7.2", "qemu-10"],
)
def test_qemu_10_is_installed_unless_it_is(tmp_path, status, installs):
    """A removed package keeps its version in dpkg's database: only an installed QEMU 10
    counts (the set-up once skipped QEMU on a machine where it had been removed)."""
    tree, env, _ = _sandbox(tmp_path)
    fake = tmp_path / "bin"
    version = status.split()[-1]
    # As dpkg-query prints it: the format asks for the status and version, or the version.
    (fake / "dpkg-query").write_text(
        f'#!/bin/sh\ncase "$*" in *Status*) echo "{status}";; *) echo "{version}";; esac\n'
    )
    (fake / "dpkg-query").chmod(0o755)
    called = tmp_path / "backports.calls"
    script = tree / "scripts" / "apt-backports.sh"
    script.write_text(f'#!/bin/sh\necho "$*" >>{called}\n')
    script.chmod(0o755)
    result = _deps(tree, env, "qemu")
    assert result.returncode == 0, result.stderr
    assert (called.read_text().split() if called.exists() else []) == (
        ["qemu-system-arm", "qemu-user"] if installs else []
    )
