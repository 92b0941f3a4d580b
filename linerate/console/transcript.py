"""A console transcript: everything the port received, in a file and a tail in memory."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TextIO


class Transcript:
    """File-like sink for pexpect's ``logfile_read``.

    Writes every received character to ``path`` (if given, flushed at once so a
    crash leaves a complete file) and keeps the last ``tail_chars`` characters
    for error messages.
    """

    def __init__(self, path: Path | None = None, tail_chars: int = 3000) -> None:
        self.path = path
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self._tail_chars = tail_chars
        self.received = 0
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", errors="replace")

    def write(self, text: str) -> None:
        if not text:
            return
        self.received += len(text)
        if self._file is not None:
            self._file.write(text)
            self._file.flush()
        self._tail.append(text)
        self._tail_len += len(text)
        while self._tail_len - len(self._tail[0]) >= self._tail_chars:
            self._tail_len -= len(self._tail.popleft())

    def note(self, text: str) -> None:
        """Record a line of our own (what the driver did) in the file only."""
        if self._file is not None:
            self._file.write(f"\n[linerate] {text}\n")
            self._file.flush()

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def tail(self, chars: int | None = None) -> str:
        text = "".join(self._tail)
        text = text[-(chars or self._tail_chars) :]
        # Keep it readable in an exception message: no CRs, no escape sequences.
        return text.replace("\r", "").replace("\x1b[6n", "")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
