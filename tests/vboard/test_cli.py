"""`linerate vboard` as a user runs it: starts, says where things are, Ctrl-C stops QEMU.
And no orphan QEMU even when the Python process that started it is killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

from procio import read_until

from linerate import ROOT
from linerate.vboard.launcher import free_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_cli_runs_and_ctrl_c_stops_qemu(vboard_images):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "linerate", "vboard", "--http-port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out = read_until(proc, r"running: Ctrl-C stops it", 120)
        pid = int(re.search(r"QEMU pid (\d+)", out).group(1))
        assert _alive(pid)
        assert re.search(r"console:\s+/dev/pts/\d+", out)
        assert f"http:     127.0.0.1:{port} -> guest 10.0.2.15:80" in out
        assert f"curl http://127.0.0.1:{port}/1k" in out
        run_dir = re.search(r"logs:\s+(\S+)/qemu.log", out).group(1)
        # the try lines come before the boot; a line says when SLHTTPD answers
        ready = read_until(proc, r"vboard: ready: .*\n", 120)
        assert f"SLHTTPD answers http://127.0.0.1:{port}/64" in ready
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, rest
    assert "vboard: stopped" in rest
    assert _wait_gone(pid, 5), "QEMU still runs after Ctrl-C"
    assert not os.path.exists(run_dir)


def test_no_orphan_qemu_when_the_parent_is_killed(vboard_images, tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from linerate.vboard.images import build_images
        from linerate.vboard.launcher import VirtualBoard
        board = VirtualBoard(build_images(), run_dir=Path({str(tmp_path)!r}))
        board.start(paused=False)
        print(board.proc.pid, flush=True)
        time.sleep(120)
        """
    )
    env = dict(os.environ)
    env.setdefault("LINERATE_VBOARD_KERNEL", "")
    if vboard_images.kernel.kind == "debian":
        env["LINERATE_VBOARD_KERNEL"] = "debian"
    elif not env["LINERATE_VBOARD_KERNEL"]:
        del env["LINERATE_VBOARD_KERNEL"]
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        line = read_until(parent, r"^\d+\n", 60)
        pid = int(line.strip().splitlines()[-1])
        assert _alive(pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert _wait_gone(pid, 10), "QEMU outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
