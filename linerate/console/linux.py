"""Linux shell driver: reach the shell, run commands, get output and exit status.

Kernel messages may be printed on the console at any time; the driver never
relies on the echo of what it typed. Each command is wrapped between two
markers that appear in the output but not in the echo (``B''tok`` is typed,
``Btok`` is printed), and the exit status is printed with the end marker.
Lines that look like kernel messages (``[   12.345678] ...``) are dropped from
the output; :meth:`LinuxShell.sync` turns printk timestamps on so that every
kernel message has that form, whatever the kernel's configuration.
"""

from __future__ import annotations

import re
import secrets

from linerate.console.errors import CommandFailedError, ConsoleError, ConsoleTimeoutError
from linerate.console.port import SerialPort

_KMSG_RE = re.compile(r"^\s*(<\d>)?\[\s*\d+\.\d+\] ")


class LinuxShell:
    """Talks to a shell on ``port`` (after boot, or an already running system)."""

    def __init__(
        self,
        port: SerialPort,
        prompt: str = "linerate-vboard# ",
        login_prompt: str = "login: ",
        username: str = "root",
        password: str | None = None,
        stamp_kernel_messages: bool = True,
    ) -> None:
        self.port = port
        self.prompt = prompt
        self.login_prompt = login_prompt
        self.username = username
        self.password = password
        self.stamp_kernel_messages = stamp_kernel_messages
        self._prompt_re = re.compile(re.escape(prompt))

    def wait_for_shell(self, timeout: float = 90.0) -> str:
        """Wait until the system offers a shell (logging in if asked); return the boot log."""
        self.port.transcript.note("linux: waiting for a shell")
        patterns = [self._prompt_re, re.compile(re.escape(self.login_prompt))]
        index = self.port.expect(patterns, timeout=timeout)
        log = self.port.before
        if index == 1:
            self.port.sendline(self.username)
            if self.password is not None:
                self.port.expect(r"[Pp]assword: ?", timeout=15.0)
                self.port.sendline(self.password)
            self.port.expect(self._prompt_re, timeout=30.0)
        self.sync()
        return log

    def sync(self, attempts: int = 5) -> None:
        """Get to a clean prompt: a marker command must run and print its marker."""
        for _ in range(attempts):
            token = secrets.token_hex(4)
            self.port.sendline(f"echo S''{token}")
            try:
                self.port.expect(f"S{token}\\r?\\n", timeout=5.0)
                self.port.expect(self._prompt_re, timeout=5.0)
                if self.stamp_kernel_messages:
                    # Kernel messages on the console get a "[ time]" prefix, so that
                    # run() can tell them from a command's output (best effort).
                    self.run("echo 1 >/sys/module/printk/parameters/time 2>/dev/null; true")
                return
            except ConsoleError:
                self.port.send("\x03")
                self.port.drain(quiet=0.3, limit=2.0)
        raise ConsoleError(
            f"no shell prompt {self.prompt!r}: the board is not at a shell (still booting, "
            "stuck, or the profile's prompt is wrong)",
            self.port.tail(),
        )

    def run(self, command: str, timeout: float = 30.0) -> tuple[int, str]:
        """Run ``command``; return (exit status, output without kernel messages)."""
        token = secrets.token_hex(4)
        self.port.transcript.note(f"linux run: {command}")
        self.port.send_paced(f"echo B''{token}; {command}; echo E''{token}=$?\r", chunk=64)
        self.port.expect(f"B{token}\\r?\\n", timeout=10.0)
        try:
            self.port.expect(f"E{token}=(\\d+)\\r?\\n", timeout=timeout)
        except ConsoleTimeoutError:
            # Leave a usable shell behind: interrupt the command before reporting.
            self.port.send("\x03")
            self.port.drain(quiet=0.3, limit=2.0)
            raise
        m = self.port.match
        status = int(m.group(1)) if m else -1
        output = self.port.before
        self.port.expect(self._prompt_re, timeout=10.0)
        lines = [line for line in output.replace("\r", "").split("\n") if not _KMSG_RE.match(line)]
        text = "\n".join(lines)
        return status, text[:-1] if text.endswith("\n") else text

    def check(self, command: str, timeout: float = 30.0) -> str:
        """Run ``command``; raise :class:`CommandFailedError` unless it exits 0."""
        status, output = self.run(command, timeout=timeout)
        if status != 0:
            raise CommandFailedError(command, status, output, self.port.tail())
        return output

    def kernel_log(self, timeout: float = 30.0) -> str:
        """The kernel's log (``dmesg``). Through :meth:`run` its lines would be dropped as
        kernel messages on the console: each goes out behind a ``|`` taken off here."""
        out = self.check("dmesg | sed 's/^/|/'", timeout=timeout)
        return "\n".join(line[1:] for line in out.splitlines() if line.startswith("|"))
