"""YMODEM (1K blocks, CRC-16) sender for U-Boot's ``loady``: the slow fallback.

At 115200 baud U-Boot's receiver gives about 3.5 KB/s (measured on the virtual
board; a real UART is similar), so it is only for small files or for boards
whose network does not work in U-Boot. Bytes go straight to the port's file
descriptor (no text encoding); the receiver's one-byte answers (ACK, NAK, 'C',
CAN) are read through the port, so they land in the transcript.
"""

from __future__ import annotations

import errno
import os
import re
import select
import time
from collections.abc import Callable

from linerate.console import ConsoleError, SerialPort
from linerate.flash.errors import FlashError

SOH, STX, EOT, ACK, NAK, CAN, CRC_C = 0x01, 0x02, 0x04, 0x06, 0x15, 0x18, 0x43
BLOCK = 1024
#: Files above this size are refused for ymodem unless forced (about 2.5 min).
DEFAULT_MAX = 512 << 10


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM (polynomial 0x1021, initial 0)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def block0(name: str, size: int) -> bytes:
    """The header block: file name and decimal size (empty name: end of batch)."""
    payload = (name.encode() + b"\0" + str(size).encode() + b"\0") if name else b""
    if len(payload) > 128:
        raise FlashError(f"ymodem: file name {name!r} too long")
    payload = payload.ljust(128, b"\0")
    return bytes([SOH, 0, 0xFF]) + payload + crc16(payload).to_bytes(2, "big")


def data_block(number: int, chunk: bytes) -> bytes:
    payload = chunk.ljust(BLOCK, b"\x1a")
    n = number & 0xFF
    return bytes([STX, n, 0xFF - n]) + payload + crc16(payload).to_bytes(2, "big")


def _write_all(fd: int, data: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise FlashError(f"ymodem: writing to the port failed: {exc}") from exc
            left = deadline - time.monotonic()
            if left <= 0:
                raise FlashError("ymodem: the port accepted no data for too long") from exc
            select.select([], [fd], [], left)


class YmodemSender:
    def __init__(
        self,
        port: SerialPort,
        retries: int = 10,
        timeout: float = 10.0,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.port = port
        self.retries = retries
        self.timeout = timeout
        self.progress = progress

    def _answer(self, timeout: float) -> int:
        wanted = [re.escape(chr(c)) for c in (ACK, NAK, CAN, CRC_C)]
        try:
            index = self.port.expect(wanted, timeout=timeout)
        except ConsoleError as exc:
            raise FlashError(
                f"ymodem: the receiver stopped answering ({exc.__class__.__name__})",
                resume="nothing was written to flash: check the console, rerun linerate flash",
            ) from exc
        return (ACK, NAK, CAN, CRC_C)[index]

    def _send_block(self, packet: bytes, what: str) -> None:
        fd = self.port.spawn.child_fd
        for _ in range(self.retries):
            _write_all(fd, packet, self.timeout)
            answer = self._answer(self.timeout)
            if answer == ACK:
                return
            if answer == CAN:
                raise FlashError(f"ymodem: the receiver cancelled at {what}")
            # NAK or a stray 'C': send it again
        raise FlashError(f"ymodem: {what} refused {self.retries} times (noisy line?)")

    def send(self, name: str, data: bytes) -> None:
        """Send one file; the receiver (``loady``) must already be waiting."""
        self.port.transcript.note(f"ymodem: sending {name} ({len(data)} bytes)")
        # The receiver polls with 'C' until the first block arrives.
        if self._answer(30.0) != CRC_C:
            raise FlashError("ymodem: the receiver did not ask for a CRC transfer ('C')")
        self._send_block(block0(name, len(data)), "the header block")
        if self._answer(self.timeout) != CRC_C:
            raise FlashError("ymodem: no 'C' after the header block")
        total = len(data)
        for i in range(0, total, BLOCK):
            number = i // BLOCK + 1
            self._send_block(data_block(number, data[i : i + BLOCK]), f"block {number}")
            if self.progress is not None:
                self.progress(min(i + BLOCK, total), total)
        fd = self.port.spawn.child_fd
        for _ in range(self.retries):
            _write_all(fd, bytes([EOT]), self.timeout)
            if self._answer(self.timeout) == ACK:
                break
        else:
            raise FlashError("ymodem: end of transfer (EOT) not acknowledged")
        # End of batch: an empty header block once the receiver asks for it.
        try:
            if self._answer(3.0) == CRC_C:
                self._send_block(block0("", 0), "the end-of-batch block")
        except FlashError:
            pass  # some receivers stop after EOT
