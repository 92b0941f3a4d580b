"""What SLHTTPD must answer (slhttpd/PROTOCOL.md): body pattern, object sizes, responses."""

from __future__ import annotations

import re

from linerate import ROOT
from linerate.host.body import LINE, body  # noqa: F401 - re-exported for the host tests

_HEADER = ROOT / "slhttpd" / "core" / "slhttpd.h"


def core_constant(name: str) -> int:
    """A ``#define NAME (expr)`` of the core's public header, e.g. SL_CONN_SPAN."""
    m = re.search(rf"^#define\s+{name}\s+(.+?)\s*(/\*.*)?$", _HEADER.read_text(), re.M)
    if not m:
        raise LookupError(f"{name} not in {_HEADER}")
    expr = re.sub(r"(\d+)u\b", r"\1", m.group(1))
    if not re.fullmatch(r"[\d\s()*+<>-]+", expr):
        raise ValueError(f"{name}: cannot evaluate {expr!r}")
    return int(eval(expr))  # noqa: S307 - digits and operators only (checked above)


#: Defaults of the frontend (slhttpd-host): "/" size and largest object at MSS 1460.
DEFAULT_BODY = 1024
BODY_LIMIT = core_constant("SL_BODY_LIMIT")
#: Sequence space of one connection; keep-alive turns to close mode near its end.
CONN_SPAN = core_constant("SL_CONN_SPAN")
#: Longest response header block (X-Pad included).
RESP_HDR_MAX = core_constant("SL_RESP_HDR_MAX")


def size_of(target: str, default: int = DEFAULT_BODY) -> int:
    """Object size a request target asks for: ``?s=n[k|m]`` anywhere in the query (whatever
    the path), else ``/n``, ``/nk``, ``/nm``, or the default for ``/``."""
    path, _, query = target.partition("?")
    sizes = [_parse_size(p[2:]) for p in query.split("&") if p.startswith("s=")]
    if sizes:
        return sizes[-1]
    return default if path == "/" else _parse_size(path[1:])


def _parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmM]?)", text)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    mult = {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]
    return int(m.group(1)) * mult


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and the rest of one raw HTTP/1.1 response."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, f"no end of headers in {raw[:200]!r}"
    lines = head.decode("latin-1").split("\r\n")
    m = re.fullmatch(r"HTTP/1\.1 (\d{3}) .*", lines[0])
    assert m, f"bad status line {lines[0]!r}"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        assert colon, f"bad header line {line!r}"
        headers[name.strip().lower()] = value.strip()
    return int(m.group(1)), headers, rest


def check_response(raw: bytes, size: int, head: bool = False, keepalive: bool = True) -> None:
    """Assert ``raw`` is exactly the 200 response for a ``size``-byte object."""
    status, headers, rest = split_response(raw)
    assert status == 200, f"status {status}"
    assert headers["content-length"] == str(size)
    assert headers["connection"] == ("keep-alive" if keepalive else "close")
    expected = b"" if head else body(size)
    assert len(rest) == len(expected), f"body {len(rest)} bytes, expected {len(expected)}"
    if rest != expected:
        first = next(i for i, (a, b) in enumerate(zip(rest, expected, strict=True)) if a != b)
        raise AssertionError(f"body differs from the pattern at byte {first} of {size}")
