"""Console errors: each message says what happened and what to check."""

from __future__ import annotations

from linerate.errors import LinerateError


class ConsoleError(LinerateError):
    """Something went wrong on a console; ``tail`` holds the transcript's end."""

    def __init__(self, message: str, tail: str = "") -> None:
        self.tail = tail
        if tail:
            message = f"{message}\n--- last console output ---\n{tail}\n--- end ---"
        super().__init__(message)


class PortError(ConsoleError):
    """The port cannot be opened or used (missing, busy, no permission)."""


class ConsoleTimeoutError(ConsoleError):
    """The expected output did not arrive in time."""


class BadPatternError(ConsoleError):
    """Output that means failure appeared (reset, panic, unknown command...)."""

    def __init__(self, name: str, matched: str, tail: str = "") -> None:
        self.name = name
        self.matched = matched
        super().__init__(f"console showed {name}: {matched!r}", tail)


class CommandFailedError(ConsoleError):
    """A command ran but reported failure (non-zero status, error text)."""

    def __init__(self, command: str, status: int, output: str, tail: str = "") -> None:
        self.command = command
        self.status = status
        self.output = output
        super().__init__(f"command {command!r} failed with status {status}: {output!r}", tail)
