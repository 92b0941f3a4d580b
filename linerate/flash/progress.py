"""Progress on a terminal: a bar for byte counts, a ticking line for waits.

On a terminal (stderr is a tty) the bar redraws in place; otherwise each phase
prints one line when it starts and one when it ends (logs stay readable).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class Progress:
    """Prints the flasher's phases and byte progress."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, width: int = 30):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.width = width
        self._phase = ""
        self._t0 = time.monotonic()
        self._last_draw = 0.0
        self._open_line = False
        #: (phase, seconds) for every phase that ended.
        self.timings: list[tuple[str, float]] = []

    def say(self, text: str) -> None:
        self._end_line()
        print(f"flash: {text}", file=self.stream, flush=True)

    def phase(self, name: str) -> None:
        """Start a phase (ending the previous one)."""
        self.done()
        self._phase = name
        self._t0 = time.monotonic()
        if not self.tty:
            print(f"flash: {name} ...", file=self.stream, flush=True)
        else:
            self._draw(f"{name} ...")

    def bytes(self, done: int, total: int) -> None:
        """Byte progress of the current phase."""
        now = time.monotonic()
        if not self.tty or (now - self._last_draw < 0.1 and done < total):
            return
        self._last_draw = now
        frac = done / total if total else 1.0
        fill = int(self.width * frac)
        rate = done / max(now - self._t0, 1e-6)
        bar = "#" * fill + "-" * (self.width - fill)
        self._draw(
            f"{self._phase} [{bar}] {frac * 100:5.1f}% {_size(done)}/{_size(total)} {_size(rate)}/s"
        )

    def tick(self, fraction: float | None = None, detail: str = "") -> None:
        """A long step's progress: the elapsed time, and a bar when ``fraction`` (0..1)
        is known (U-Boot's own progress marks); on a pipe nothing (one line per phase)."""
        now = time.monotonic()
        if not self.tty or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        elapsed = f"{now - self._t0:5.1f} s"
        extra = f" {detail}" if detail else ""
        if fraction is None:
            self._draw(f"{self._phase} ... {elapsed}{extra}")
            return
        frac = min(max(fraction, 0.0), 1.0)
        fill = int(self.width * frac)
        bar = "#" * fill + "-" * (self.width - fill)
        self._draw(f"{self._phase} [{bar}] {frac * 100:5.1f}% {elapsed}{extra}")

    def done(self, note: str = "") -> None:
        if not self._phase:
            return
        dt = time.monotonic() - self._t0
        self.timings.append((self._phase, dt))
        self._end_line()
        extra = f": {note}" if note else ""
        print(f"flash: {self._phase}: done in {dt:.1f} s{extra}", file=self.stream, flush=True)
        self._phase = ""

    def _draw(self, text: str) -> None:
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._open_line = True

    def _end_line(self) -> None:
        if self._open_line:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._open_line = False


class Quiet(Progress):
    """No output (library use and tests), timings still recorded."""

    def __init__(self) -> None:
        import io

        super().__init__(stream=io.StringIO(), tty=False)
