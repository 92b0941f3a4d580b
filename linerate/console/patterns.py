"""Console output that means failure at once ("bad patterns").

A driver fails as soon as one of these appears instead of waiting for its
timeout, and the error carries the transcript's tail. Patterns are named so a
caller can allow one for a while (the U-Boot sign-on is expected right after
power-on or a deliberate reset, and nowhere else).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class BadPattern:
    """A named regular expression that means the board is in trouble."""

    name: str
    regex: str

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.regex)


UBOOT_SIGNON = BadPattern("U-Boot sign-on (the board reset)", r"U-Boot 20\d\d\.\d\d")
UNKNOWN_COMMAND = BadPattern("U-Boot unknown command", r"Unknown command '[^'\r\n]*'")
UBOOT_ERROR = BadPattern("U-Boot error", r"## Error[^\r\n]*")
KERNEL_PANIC = BadPattern("kernel panic", r"Kernel panic[^\r\n]*")
OOPS = BadPattern("kernel oops", r"Oops[:\s][^\r\n]*")
KERNEL_BUG = BadPattern("kernel BUG", r"BUG: [^\r\n]*")
INTERNAL_ERROR = BadPattern("kernel internal error", r"Internal error: [^\r\n]*")

DEFAULT_BAD_PATTERNS: tuple[BadPattern, ...] = (
    UBOOT_SIGNON,
    UNKNOWN_COMMAND,
    UBOOT_ERROR,
    KERNEL_PANIC,
    OOPS,
    KERNEL_BUG,
    INTERNAL_ERROR,
)
