"""`linerate build`: the kas command per board and its checks (no network used)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from layerlib import BOARDS, ROOT

from linerate.layer import kas as build


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_plan_runs_kas_with_the_board_overlay(board):
    plan = build.plan(board)
    assert plan.machine == BOARDS[board]
    assert plan.command[1:] == ["build", f"kas.yml:board/{board}/kas.yml"]
    assert plan.command[0].endswith("/kas")
    assert plan.deploy_dir == ROOT / "build/tmp/deploy/images" / plan.machine
    for medium, rel in plan.images.items():
        assert (ROOT / rel).parent == plan.deploy_dir, medium


def test_container_plan_uses_kas_container():
    assert build.plan("mirabox", container=True).command[0].endswith("kas-container")


def test_source_hosts_cover_layers_and_kernel():
    hosts = {host for _what, host in build.source_hosts()}
    assert {"git.openembedded.org", "git.kernel.org"} <= hosts


def test_unreachable_names_each_host_once_with_the_reason():
    tried: list[tuple[str, int]] = []

    def refuse(host: str, port: int, timeout: float) -> None:
        tried.append((host, port))
        raise OSError(101, "Network is unreachable")

    failures = build.unreachable(build.source_hosts(), connect=refuse)
    assert len(tried) == len({h for h, _ in tried}), "a host was tried twice"
    assert all(port == 443 for _h, port in tried)
    assert any(f.startswith("git.kernel.org (sources): Network is unreachable") for f in failures)
    assert any("kas repo openembedded-core, kas repo bitbake" in f for f in failures)


def test_reachable_hosts_give_no_failure():
    assert build.unreachable(build.source_hosts(), connect=lambda h, p, t: None) == []


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linerate", "build", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_dry_run_prints_the_command():
    result = run_cli("--board", "openblocks-ax3", "--dry-run", "--skip-checks")
    assert result.returncode == 0, result.stderr
    assert "kas.yml:board/openblocks-ax3/kas.yml" in result.stdout
    assert "build/tmp/deploy/images/openblocks-ax3/" in result.stdout


def test_cli_unknown_board_is_one_clear_error():
    result = run_cli("--board", "no-such-board", "--dry-run", "--skip-checks")
    assert result.returncode == 2
    assert "no-such-board" in result.stderr and "Traceback" not in result.stderr
