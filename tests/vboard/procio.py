"""Reading a CLI's output in the vboard tier's tests."""

from __future__ import annotations

import re
import select
import subprocess
import time


def read_until(proc: subprocess.Popen[str], pattern: str, timeout: float, flags: int = 0) -> str:
    """``proc``'s stdout, line by line, until ``pattern`` (``re.search`` with ``flags``) is
    in what was read: that text. AssertionError with what came after ``timeout`` s or at EOF."""
    assert proc.stdout is not None
    text = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            text += line
            if re.search(pattern, text, flags):
                return text
    raise AssertionError(f"no {pattern!r} in {timeout} s:\n{text}")
