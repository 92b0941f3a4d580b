"""The one command contract of the console drivers (U-Boot's and Linux's).

    status, output = driver.run("cmd")   # never raises for a non-zero status
    output = driver.check("cmd")         # raises CommandFailedError unless status 0

Output is what the command printed: no echo, no prompt, no ``\\r``. Both raise
:class:`~linerate.console.errors.ConsoleError` (or a subclass: timeout, bad pattern)
when the console itself fails.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class CommandDriver(Protocol):
    def run(self, command: str, timeout: float = ...) -> tuple[int, str]: ...

    def check(self, command: str, timeout: float = ...) -> str: ...
