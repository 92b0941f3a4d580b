"""A small read-only TFTP server (RFC 1350) with option negotiation (RFC 2347),
block size (RFC 2348) and timeout / transfer size (RFC 2349).

The flasher runs it for the time of one flash: it serves only the files it was
given (by name), refuses writes, binds one address, and reports each
transfer's progress. Every transfer gets its own socket (its own TID, as RFC
1350 asks), retransmits its last DATA or OACK on a timeout a bounded number of
times, and ignores duplicate ACKs (no "Sorcerer's Apprentice" storms).

    with TftpServer({"uImage": path}, host="127.0.0.1", port=69) as srv:
        ... U-Boot: tftpboot 0x40400000 uImage ...
        srv.wait_done("uImage", timeout=120)
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from linerate.board.profile import Tftp
from linerate.errors import LinerateError
from linerate.flash import progress as flash_progress

OP_RRQ, OP_WRQ, OP_DATA, OP_ACK, OP_ERROR, OP_OACK = 1, 2, 3, 4, 5, 6
ERR_UNDEFINED, ERR_NOT_FOUND, ERR_ACCESS, ERR_ILLEGAL, ERR_UNKNOWN_TID, ERR_OPTION = (
    0,
    1,
    2,
    4,
    5,
    8,
)
DEFAULT_BLKSIZE = 512
MIN_BLKSIZE, MAX_BLKSIZE = 8, 65464

#: Progress callback: (file name, bytes acknowledged, total bytes).
Progress = Callable[[str, int, int], None]


class TftpError(LinerateError):
    """The server could not start, or a transfer failed."""


@dataclass
class Transfer:
    """One read request and how it went."""

    name: str
    client: tuple[str, int]
    size: int
    blksize: int = DEFAULT_BLKSIZE
    acked: int = 0
    retransmits: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def ok(self) -> bool:
        return self.done.is_set() and self.error is None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def _error_packet(code: int, message: str) -> bytes:
    return struct.pack("!HH", OP_ERROR, code) + message.encode("ascii", "replace") + b"\0"


def parse_request(packet: bytes) -> tuple[int, str, str, dict[str, str]]:
    """Parse an RRQ/WRQ: (opcode, file name, mode, options with lower-case names)."""
    if len(packet) < 4:
        raise ValueError("request too short")
    (opcode,) = struct.unpack("!H", packet[:2])
    fields = packet[2:].split(b"\0")
    if fields[-1] != b"" or len(fields) < 3:
        raise ValueError("request fields not NUL-terminated")
    fields = fields[:-1]
    name = fields[0].decode("ascii", "replace")
    mode = fields[1].decode("ascii", "replace").lower()
    opts: dict[str, str] = {}
    rest = fields[2:]
    for i in range(0, len(rest) - 1, 2):
        opts[rest[i].decode("ascii", "replace").lower()] = rest[i + 1].decode("ascii", "replace")
    return opcode, name, mode, opts


def negotiate(opts: dict[str, str], size: int) -> dict[str, str]:
    """The options we accept, with our values (unknown or bad ones are left out)."""
    out: dict[str, str] = {}
    if "blksize" in opts:
        try:
            want = int(opts["blksize"])
        except ValueError:
            want = 0
        if want >= MIN_BLKSIZE:
            out["blksize"] = str(min(want, MAX_BLKSIZE))
    if "timeout" in opts:
        try:
            t = int(opts["timeout"])
        except ValueError:
            t = 0
        if 1 <= t <= 255:
            out["timeout"] = str(t)
    if "tsize" in opts:
        out["tsize"] = str(size)
    return out


class TftpServer:
    """Serves ``files`` (name -> path) read-only on ``host:port`` from a thread."""

    def __init__(
        self,
        files: dict[str, Path],
        host: str = "127.0.0.1",
        port: int = 69,
        timeout: float = 1.0,
        retries: int = 8,
        progress: Progress | None = None,
        bind_wait: float = 0.0,
    ) -> None:
        self.files = dict(files)
        self.host = host
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.progress = progress
        self.bind_wait = bind_wait
        self.transfers: list[Transfer] = []
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    # -- life cycle --------------------------------------------------------------

    def start(self) -> TftpServer:
        deadline = time.monotonic() + self.bind_wait
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.host, self.port))
                break
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE and time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                raise TftpError(self._bind_hint(exc)) from exc
        self._sock = sock
        self.port = sock.getsockname()[1]
        thread = threading.Thread(target=self._listen, name="tftp-listen", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _bind_hint(self, exc: OSError) -> str:
        where = f"{self.host}:{self.port}"
        if exc.errno == errno.EACCES:
            return (
                f"cannot bind the TFTP server to {where}: port {self.port} is privileged; run as "
                "root (or grant CAP_NET_BIND_SERVICE to python), or give a port >= 1024 if the "
                "bootloader can use it (U-Boot's tftpdstp needs CONFIG_TFTP_PORT)"
            )
        if exc.errno == errno.EADDRINUSE:
            return (
                f"cannot bind the TFTP server to {where}: the port is in use (another TFTP "
                "server such as tftpd-hpa, or another linerate flash running): stop it and retry"
            )
        if exc.errno == errno.EADDRNOTAVAIL:
            return (
                f"cannot bind the TFTP server to {where}: no interface has the address "
                f"{self.host}: check the profile's tftp.server_address and `ip addr`"
            )
        return f"cannot bind the TFTP server to {where}: {exc}"

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5.0)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> TftpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- queries -------------------------------------------------------------------

    def wait_done(self, name: str, timeout: float) -> Transfer:
        """Wait for the latest transfer of ``name`` to finish; return it (it may have failed)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [t for t in self.transfers if t.name == name]
                if matching and matching[-1].done.is_set():
                    return matching[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    state = (
                        f"{matching[-1].acked} of {matching[-1].size} bytes acknowledged"
                        if matching
                        else "no request for it arrived"
                    )
                    raise TftpError(
                        f"TFTP transfer of {name} not finished in {timeout:.0f} s ({state})"
                    )
                self._changed.wait(min(left, 0.5))

    # -- serving ---------------------------------------------------------------------

    def _listen(self) -> None:
        assert self._sock is not None
        sock = self._sock
        while not self._stop.is_set():
            ready, _, _ = select.select([sock], [], [], 0.2)
            if not ready:
                continue
            try:
                packet, client = sock.recvfrom(65536)
            except OSError:
                continue
            self._request(packet, client)

    def _request(self, packet: bytes, client: tuple[str, int]) -> None:
        assert self._sock is not None
        try:
            opcode, name, mode, opts = parse_request(packet)
        except ValueError as exc:
            self._sock.sendto(_error_packet(ERR_ILLEGAL, f"malformed request: {exc}"), client)
            return
        if opcode == OP_WRQ:
            self._sock.sendto(_error_packet(ERR_ACCESS, "read-only server"), client)
            return
        if opcode != OP_RRQ:
            self._sock.sendto(_error_packet(ERR_ILLEGAL, "expected a read request"), client)
            return
        if mode != "octet":
            self._sock.sendto(_error_packet(ERR_UNDEFINED, "only octet mode is served"), client)
            return
        path = self.files.get(name.lstrip("/"))
        if path is None:
            self._sock.sendto(_error_packet(ERR_NOT_FOUND, f"no file {name}"), client)
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            self._sock.sendto(_error_packet(ERR_NOT_FOUND, f"cannot read {name}: {exc}"), client)
            return
        transfer = Transfer(name=name.lstrip("/"), client=client, size=len(data))
        with self._changed:
            self.transfers.append(transfer)
        thread = threading.Thread(
            target=self._send, args=(transfer, data, opts), name=f"tftp-{name}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _finish(self, transfer: Transfer, error: str | None) -> None:
        with self._changed:
            transfer.error = error
            transfer.finished = time.monotonic()
            transfer.done.set()
            self._changed.notify_all()

    def _send(self, transfer: Transfer, data: bytes, opts: dict[str, str]) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, 0))
            error = self._run_transfer(sock, transfer, data, opts)
        except OSError as exc:
            error = f"socket error: {exc}"
        finally:
            sock.close()
        self._finish(transfer, error)

    def _run_transfer(
        self, sock: socket.socket, t: Transfer, data: bytes, opts: dict[str, str]
    ) -> str | None:
        accepted = negotiate(opts, len(data))
        t.blksize = int(accepted.get("blksize", DEFAULT_BLKSIZE))
        timeout = float(accepted.get("timeout", self.timeout))
        nblocks = len(data) // t.blksize + 1  # the last block is short (maybe empty)

        if accepted:
            body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in accepted.items())
            packet = struct.pack("!H", OP_OACK) + body
            expect = 0  # the client acknowledges the OACK with ACK 0
        else:
            packet = self._data(1, data, t.blksize)
            expect = 1
        while True:
            acked = self._exchange(sock, t, packet, expect, timeout)
            if isinstance(acked, str):
                return acked
            if expect >= 1:
                t.acked = min(expect * t.blksize, len(data))
                if self.progress is not None:
                    self.progress(t.name, t.acked, t.size)
            if expect == nblocks:
                return None
            expect += 1
            packet = self._data(expect, data, t.blksize)

    @staticmethod
    def _data(block: int, data: bytes, blksize: int) -> bytes:
        chunk = data[(block - 1) * blksize : block * blksize]
        return struct.pack("!HH", OP_DATA, block & 0xFFFF) + chunk

    def _exchange(
        self, sock: socket.socket, t: Transfer, packet: bytes, block: int, timeout: float
    ) -> bool | str:
        """Send ``packet`` until ACK ``block`` arrives; an error message if it never does."""
        want = block & 0xFFFF
        for attempt in range(self.retries + 1):
            if self._stop.is_set():
                return "server stopped"
            sock.sendto(packet, t.client)
            if attempt:
                t.retransmits += 1
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([sock], [], [], left)
                if not ready:
                    break
                reply, addr = sock.recvfrom(65536)
                if addr != t.client:
                    sock.sendto(_error_packet(ERR_UNKNOWN_TID, "unknown transfer ID"), addr)
                    continue
                if len(reply) < 4:
                    continue
                opcode, number = struct.unpack("!HH", reply[:4])
                if opcode == OP_ERROR:
                    message = reply[4:].split(b"\0")[0].decode("ascii", "replace")
                    return f"client aborted with error {number}: {message}"
                if opcode == OP_ACK and number == want:
                    return True
                # A duplicate or stale ACK: keep waiting, do not resend (RFC 1123 4.2.3.1).
        return (
            f"no acknowledgement of block {block} from {t.client[0]}:{t.client[1]} after "
            f"{self.retries + 1} tries"
        )


def linux_tftp_server(
    tftp: Tftp, image: Path, progress: flash_progress.Progress
) -> tuple[TftpServer, str]:
    """The flasher's TFTP server for a Linux on the board (busybox ``tftp``), serving
    ``image``, and its address as the board sees it (``linux_bind``: where that address
    leads on this host, if not ``bind``)."""
    server = TftpServer(
        {image.name: image},
        host=tftp.linux_bind or tftp.bind,
        port=tftp.linux_port if tftp.linux_port is not None else tftp.port,
        progress=lambda _n, done, total: progress.bytes(done, total),
        bind_wait=20.0,
    )
    return server, tftp.linux_serverip or tftp.serverip
