"""U-Boot driver: stop autoboot, run echo-checked commands, read the environment.

Commands are typed in chunks and each chunk's echo is awaited before the next
(a UART without flow control then never overruns U-Boot's polled input), the
whole echo is checked (a garbled command is caught before it runs), and the
output is the text between the echo and the next prompt.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

from linerate.console.errors import CommandFailedError, ConsoleError, ConsoleTimeoutError
from linerate.console.patterns import UBOOT_ERROR, UBOOT_SIGNON
from linerate.console.port import SerialPort

_CRC_RE = re.compile(r"==>\s*([0-9a-fA-F]{8})")
#: What U-Boot's own commands print when they fail, for a parser without ``$?``.
_FAILURE_RE = re.compile(
    r"Unknown command|## Error|ERROR|Error:|not defined|Usage:|Can't|can't|failed|"
    r"Wrong Image|Bad (?:Magic|Data|Header)|not erased|protected sectors"
)

#: Called with a long command's output so far while it runs.
Watch = Callable[[str], None]


class UBootDriver:
    """Talks to U-Boot's command line on ``port``."""

    def __init__(
        self,
        port: SerialPort,
        prompt: str = "=> ",
        autoboot_text: str = "Hit any key to stop autoboot",
        stop_key: str = " ",
        max_line: int = 511,
        chunk: int = 24,
        echo_timeout: float = 3.0,
    ) -> None:
        self.port = port
        self.prompt = prompt
        self.autoboot_text = autoboot_text
        self.stop_key = stop_key
        self.max_line = max_line
        self.chunk = chunk
        self.echo_timeout = echo_timeout
        #: Whether the parser is hush (``$?``). Without it (an old vendor build's plain
        #: parser) success is judged from the output; the survey sets what it found.
        self.hush = True
        self._prompt_re = re.compile(r"\n" + re.escape(prompt))

    # -- getting to the prompt -------------------------------------------------

    def stop_autoboot(self, timeout: float = 30.0) -> str:
        """Wait for the board's sign-on and autoboot countdown, interrupt it, reach the prompt.

        Call right after power-on or reset (the sign-on is allowed here). Returns the
        boot log up to the countdown."""
        with self.port.allow(UBOOT_SIGNON):
            self.port.expect(re.escape(self.autoboot_text), timeout=timeout)
            log = self.port.before
            # Keep sending the key until the prompt shows (the countdown may tick once).
            for _ in range(10):
                self.port.send(self.stop_key)
                try:
                    self.port.expect(re.escape(self.prompt), timeout=1.0)
                    break
                except ConsoleError:
                    continue
            else:
                raise ConsoleError(
                    f"U-Boot did not stop autoboot on key {self.stop_key!r}: check the profile's "
                    "stop key (a keyed autoboot needs its string)",
                    self.port.tail(),
                )
        self.sync()
        return log

    def sync(self, attempts: int = 5) -> None:
        """Make sure we are at a fresh prompt: clear the line, run an echo, see its output."""
        self.port.send("\x03")  # Ctrl-C: U-Boot drops the partial line
        self.port.drain(quiet=0.2, limit=2.0)
        for _ in range(attempts):
            token = secrets.token_hex(4)
            self.port.sendline(f"echo sync{token}")
            try:
                pattern = f"\\nsync{token}\\r?\\n{re.escape(self.prompt)}"
                self.port.expect(pattern, timeout=self.echo_timeout)
                return
            except ConsoleError:
                self.port.send("\x03")
                self.port.drain(quiet=0.2, limit=2.0)
        raise ConsoleError(
            "no U-Boot prompt: the board is not at U-Boot's command line (check the profile's "
            f"prompt {self.prompt!r}, or reset the board and stop autoboot)",
            self.port.tail(),
        )

    # -- commands ----------------------------------------------------------------

    def _type(self, line: str, timeout: float) -> None:
        if len(line) > self.max_line:
            raise ConsoleError(
                f"command of {len(line)} characters exceeds U-Boot's line limit "
                f"({self.max_line}): split it (e.g. several setenv calls)"
            )
        if any(ord(c) < 0x20 or ord(c) > 0x7E for c in line):
            raise ConsoleError(f"command {line!r} holds characters U-Boot's line editor mangles")
        for i in range(0, len(line), self.chunk):
            piece = line[i : i + self.chunk]
            self.port.send(piece)
            try:
                self.port.expect(re.escape(piece), timeout=timeout)
            except ConsoleError as exc:
                raise ConsoleError(
                    f"U-Boot did not echo {piece!r} of {line!r}: characters lost on the "
                    "line (check the baud rate and the cable) or the board is not at its prompt",
                    self.port.tail(),
                ) from exc

    def send_command(self, command: str, timeout: float = 10.0, watch: Watch | None = None) -> str:
        """Type ``command`` and return its output (without echo and prompt, ``\\r``
        removed). No exit status: this needs no hush, and flash steps that must work
        without it judge the output instead. ``watch(output_so_far)`` is called about
        four times a second while the command runs (progress of a long erase or copy)."""
        self.port.transcript.note(f"uboot run: {command}")
        self._type(command, timeout=self.echo_timeout)
        self.port.send("\r")
        if watch is None:
            self.port.expect(self._prompt_re, timeout=timeout)
        else:
            self._wait_watching(timeout, watch)
        out = self.port.before.replace("\r", "")
        return out[1:] if out.startswith("\n") else out

    def _wait_watching(self, timeout: float, watch: Watch) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                self.port.expect(self._prompt_re, timeout=max(0.05, min(0.25, left)))
                return
            except ConsoleTimeoutError:
                if time.monotonic() >= deadline:
                    raise
            pending = self.port.spawn.buffer
            watch(pending.replace("\r", "") if isinstance(pending, str) else "")

    def run(
        self, command: str, timeout: float = 10.0, watch: Watch | None = None
    ) -> tuple[int, str]:
        """Run ``command``; return (exit status, output), the status from hush's ``$?``
        (the contract of every console driver: :class:`LinuxShell` too). Without hush:
        1 when the output says a command failed (:data:`_FAILURE_RE`), else 0."""
        if not self.hush:
            out = self.send_command(command, timeout=timeout, watch=watch)
            return (1 if _FAILURE_RE.search(out) else 0), out.rstrip("\n")
        token = secrets.token_hex(3)
        out = self.send_command(f"{command}; echo rc{token}=$?", timeout=timeout, watch=watch)
        m = re.search(rf"rc{token}=(\d+)\s*$", out)
        if not m:
            raise ConsoleError(f"no exit status from {command!r}", self.port.tail())
        return int(m.group(1)), out[: m.start()].rstrip("\n")

    def check(self, command: str, timeout: float = 10.0, watch: Watch | None = None) -> str:
        """Run ``command``; raise :class:`CommandFailedError` if its status is not 0."""
        status, out = self.run(command, timeout=timeout, watch=watch)
        if status != 0:
            raise CommandFailedError(command, status, out, self.port.tail())
        return out

    # -- environment ---------------------------------------------------------------

    def printenv(self) -> dict[str, str]:
        """The whole environment as a dict."""
        return parse_printenv(self.send_command("printenv", timeout=10.0))

    def getenv(self, name: str) -> str | None:
        with self.port.allow(UBOOT_ERROR):  # '## Error: "name" not defined'
            status, out = self.run(f"printenv {name}")
        if status != 0:
            return None
        return parse_printenv(out).get(name)

    def setenv(self, name: str, value: str) -> None:
        """Set ``name``; the value is single-quoted so hush does not expand it now."""
        if "'" in value:
            raise ConsoleError(f"value of {name} holds a single quote: not supported")
        self.check(f"setenv {name} '{value}'" if value else f"setenv {name}")

    def saveenv(self, timeout: float = 60.0) -> None:
        out = self.check("saveenv", timeout=timeout)
        if "OK" not in out:
            raise ConsoleError(f"saveenv did not report OK: {out!r}", self.port.tail())

    def crc32(self, address: int, length: int, timeout: float = 60.0) -> int:
        out = self.check(f"crc32 {address:#x} {length:#x}", timeout=timeout)
        m = _CRC_RE.search(out)
        if not m:
            raise ConsoleError(f"cannot read the CRC in {out!r}", self.port.tail())
        return int(m.group(1), 16)

    def boot(self, command: str = "boot") -> None:
        """Start booting (``boot``, ``run bootcmd``...): type it and do not wait for a prompt."""
        self.port.transcript.note(f"uboot boot: {command}")
        self._type(command, timeout=self.echo_timeout)
        self.port.send("\r")
        self.port.expect(r"\r?\n", timeout=self.echo_timeout)


def parse_printenv(text: str) -> dict[str, str]:
    """Parse ``printenv`` output into a dict (continuation lines join the previous value)."""
    env: dict[str, str] = {}
    last: str | None = None
    for line in text.replace("\r", "").split("\n"):
        if not line or line.startswith("Environment size:"):
            continue
        name, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            env[name] = value
            last = name
        elif last is not None:
            env[last] += "\n" + line
    return env
