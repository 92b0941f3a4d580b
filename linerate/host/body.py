"""SLHTTPD's body pattern (slhttpd/PROTOCOL.md, "The body pattern"): the oracle of every
body check, in the host, vboard and board tests and in the benchmarks.

Bodies are made of 64-byte lines anchored at the end of the object, so the last byte
of every body is the line's newline and any segment can be produced from its offset
to the end alone.
"""

from __future__ import annotations

#: The 64-byte line bodies are made of.
LINE = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n"
assert len(LINE) == 64


def body(size: int) -> bytes:
    """The body of a ``size``-byte object: anchored at its end, which is a full line."""
    if size <= 0:
        return b""
    return (LINE * (size // 64 + 2))[-size:]
