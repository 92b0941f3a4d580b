"""Console drivers: a serial port with a transcript, U-Boot and Linux shell drivers.

The split follows the usual driver/strategy shape: :class:`SerialPort` moves bytes
and watches for bad patterns, :class:`UBootDriver` and :class:`LinuxShell` know
one program's conventions each, with one command contract (:class:`CommandDriver`:
``run() -> (status, output)``, ``check() -> output``), and the board strategy
(:mod:`linerate.board.strategy`) decides the sequence.
"""

from linerate.console.driver import CommandDriver
from linerate.console.errors import (
    BadPatternError,
    CommandFailedError,
    ConsoleError,
    ConsoleTimeoutError,
    PortError,
)
from linerate.console.linux import LinuxShell
from linerate.console.patterns import DEFAULT_BAD_PATTERNS, BadPattern
from linerate.console.port import SerialPort
from linerate.console.uboot import UBootDriver

__all__ = [
    "DEFAULT_BAD_PATTERNS",
    "BadPattern",
    "BadPatternError",
    "CommandDriver",
    "CommandFailedError",
    "ConsoleError",
    "ConsoleTimeoutError",
    "LinuxShell",
    "PortError",
    "SerialPort",
    "UBootDriver",
]
