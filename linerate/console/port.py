"""A serial console (a UART device, a pty, or a network console) driven with pexpect.

``SerialPort`` opens the port (:mod:`linerate.console.link`: pyserial, exclusive,
raw; ``rfc2217://`` and ``socket://`` through a local socket pair), wraps its file
descriptor in ``pexpect.fdpexpect.fdspawn``, records a transcript, and turns
the usual failures into errors that say what to check: a missing or busy port,
a silent board, a board that resets or panics (bad patterns).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import pexpect
import pexpect.fdpexpect

from linerate.console.errors import (
    BadPatternError,
    ConsoleTimeoutError,
    PortError,
)
from linerate.console.link import Link
from linerate.console.patterns import DEFAULT_BAD_PATTERNS, BadPattern
from linerate.console.transcript import Transcript

Pattern = str | re.Pattern[str]


class SerialPort:
    """One console. Use as a context manager, or call :meth:`open`/:meth:`close`."""

    def __init__(
        self,
        device: str,
        baud: int = 115200,
        transcript: Path | None = None,
        timeout: float = 10.0,
        bad_patterns: Sequence[BadPattern] = DEFAULT_BAD_PATTERNS,
    ) -> None:
        self.device = device
        self.baud = baud
        self.timeout = timeout
        self.transcript = Transcript(transcript)
        self.bad_patterns: list[BadPattern] = list(bad_patterns)
        self._allowed: dict[str, int] = {}
        self._link: Link | None = None
        self._spawn: pexpect.fdpexpect.fdspawn | None = None

    # -- opening and closing -------------------------------------------------

    def open(self) -> SerialPort:
        link = Link(self.device, self.baud).open()
        self._link = link
        self._spawn = pexpect.fdpexpect.fdspawn(
            link.fileno(),
            timeout=self.timeout,
            encoding="utf-8",
            codec_errors="replace",
            maxread=4096,
            use_poll=True,
        )
        self._spawn.logfile_read = self.transcript
        self.transcript.note(f"opened {self.device} at {self.baud} baud")
        return self

    def close(self) -> None:
        if self._link is not None:
            self.transcript.note(f"closed {self.device}")
            self._link.close()
            self._link = None
            self._spawn = None
        self.transcript.close()

    def __enter__(self) -> SerialPort:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def spawn(self) -> pexpect.fdpexpect.fdspawn:
        if self._spawn is None:
            raise PortError(f"console {self.device} is not open")
        return self._spawn

    # -- bad patterns --------------------------------------------------------

    @contextmanager
    def allow(self, *patterns: BadPattern) -> Iterator[None]:
        """Do not treat ``patterns`` as failures inside the ``with`` block."""
        for p in patterns:
            self._allowed[p.name] = self._allowed.get(p.name, 0) + 1
        try:
            yield
        finally:
            for p in patterns:
                self._allowed[p.name] -= 1

    def _active_bad(self) -> list[BadPattern]:
        return [p for p in self.bad_patterns if not self._allowed.get(p.name)]

    # -- reading and writing -------------------------------------------------

    def tail(self, chars: int | None = None) -> str:
        return self.transcript.tail(chars)

    def expect(self, patterns: Pattern | Sequence[Pattern], timeout: float | None = None) -> int:
        """Wait for one of ``patterns``; return its index. ``self.before``/``self.match`` hold
        the text before it and the match. Bad patterns, EOF and timeout raise."""
        wanted: list[Pattern] = (
            [patterns] if isinstance(patterns, str | re.Pattern) else list(patterns)
        )
        bad = self._active_bad()
        compiled = [p if isinstance(p, re.Pattern) else re.compile(p) for p in wanted]
        compiled += [b.compiled() for b in bad]
        limit = self.timeout if timeout is None else timeout
        start_received = self.transcript.received
        try:
            index = self.spawn.expect_list([*compiled, pexpect.EOF, pexpect.TIMEOUT], timeout=limit)
        except OSError as exc:
            raise PortError(
                f"reading {self.device} failed ({exc}): the board, QEMU or the adapter went away",
                self.tail(),
            ) from exc
        n = len(wanted)
        if index < n:
            return index
        if index < n + len(bad):
            pattern = bad[index - n]
            matched = self.spawn.match.group(0) if self.spawn.match else ""
            raise BadPatternError(pattern.name, matched, self.tail())
        if index == n + len(bad):
            raise PortError(
                f"console {self.device} closed (end of file): QEMU exited, or the USB-serial "
                "adapter was unplugged",
                self.tail(),
            )
        raise ConsoleTimeoutError(
            self._timeout_hint(wanted, limit, self.transcript.received - start_received),
            self.tail(),
        )

    def _timeout_hint(self, wanted: Sequence[Pattern], limit: float, got: int) -> str:
        shown = ", ".join(repr(p if isinstance(p, str) else p.pattern) for p in wanted)
        if self.transcript.received == 0:
            return (
                f"no output at all from {self.device} in {limit:.0f} s: check the board is "
                f"powered, the cable (TX/RX crossed, ground connected) and the baud rate "
                f"({self.baud})"
            )
        tail = self.tail(400)
        if tail.count("\ufffd") > 20:
            return (
                f"garbled output on {self.device} waiting for {shown}: check the baud rate "
                f"({self.baud})"
            )
        if got == 0:
            return (
                f"the console went silent: nothing received in {limit:.0f} s waiting for {shown}"
                " (board hung or stopped sending)"
            )
        return f"timed out after {limit:.0f} s waiting for {shown}"

    @property
    def before(self) -> str:
        text = self.spawn.before
        return text if isinstance(text, str) else ""

    @property
    def match(self) -> re.Match[str] | None:
        m = self.spawn.match
        return m if isinstance(m, re.Match) else None

    def send(self, text: str) -> None:
        try:
            self.spawn.send(text)
        except OSError as exc:
            raise PortError(f"writing to {self.device} failed ({exc})", self.tail()) from exc

    def sendline(self, text: str = "") -> None:
        self.send(text + "\r")

    def send_paced(self, text: str, chunk: int = 16, delay: float = 0.01) -> None:
        """Send ``text`` in small chunks with a pause between them (no flow control)."""
        for i in range(0, len(text), chunk):
            self.send(text[i : i + chunk])
            if i + chunk < len(text):
                time.sleep(delay)

    def drain(self, quiet: float = 0.3, limit: float = 5.0) -> str:
        """Read until nothing arrives for ``quiet`` seconds (at most ``limit``); return it."""
        out: list[str] = []
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                data = self.spawn.read_nonblocking(4096, timeout=quiet)
            except pexpect.TIMEOUT:
                break
            except pexpect.EOF:
                break
            out.append(data if isinstance(data, str) else "")
        return "".join(out)
