"""Helpers the board tests share: MAC parsing, HTTP clients, SLHTTPD's body pattern."""

from __future__ import annotations

import re
import socket
import time

from linerate import ROOT
from linerate.host.body import body  # noqa: F401 - the board tests' body oracle

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def pinned_kernel_version() -> str:
    """LINUX_VERSION from recipes/linux-ndiv/linux-ndiv.inc."""
    text = (ROOT / "recipes" / "linux-ndiv" / "linux-ndiv.inc").read_text()
    m = re.search(r'^LINUX_VERSION\s*\??=\s*"([^"]+)"', text, re.MULTILINE)
    assert m, "no LINUX_VERSION in recipes/linux-ndiv/linux-ndiv.inc"
    return m.group(1)


def read_response(
    sock: socket.socket, buf: bytes, timeout: float
) -> tuple[dict[str, str], bytes, bytes]:
    """Read one HTTP/1.1 response: (headers, body, rest of the buffer)."""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        buf += _recv(sock, deadline)
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 200"), f"status line {lines[0]!r}"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(buf) < length:
        buf += _recv(sock, deadline)
    return headers, buf[:length], buf[length:]


def _recv(sock: socket.socket, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("no complete HTTP response in time")
    sock.settimeout(left)
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("the server closed the connection before the response ended")
    return data


def connect(host: str, port: int, timeout: float = 30.0) -> socket.socket:
    """Connect, retrying while the link comes up (the first request after boot can take
    seconds on the virtual board)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return socket.create_connection((host, port), timeout=5.0)
        except OSError as exc:
            last = exc
            time.sleep(0.5)
    raise ConnectionError(f"cannot connect to {host}:{port} in {timeout:.0f} s: {last}")


def counters(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def ndiv_table(text: str) -> dict[str, str]:
    """/proc/net/ndiv: interface -> attached application name."""
    out = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = parts[1]
    return out


def booted_slot(log: str) -> str:
    """The slot U-Boot booted: the last "Booting slot X" its boot commands echoed
    before the kernel started ("a" or "b"; "" when none)."""
    head = log.split("Starting kernel", 1)[0]
    found = re.findall(r"Booting slot ([AB])", head)
    return found[-1].lower() if found else ""


def assert_booted_from_ram(log: str, lab) -> None:
    """bootm ran on a RAM copy, never on a NOR address: an ATAG-era U-Boot hands the
    kernel the initrd where the image lies, and Linux drops an initrd in flash."""
    found = re.findall(r"Legacy Image at ([0-9a-fA-F]+)", log.split("Starting kernel", 1)[0])
    assert found, "no bootm of a legacy image in the boot log"
    address = int(found[-1], 16)
    assert lab.bank_at(address) is None, f"bootm ran on NOR address {address:#x}"
