"""A minimal QMP (QEMU Machine Protocol) client over a unix socket."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from linerate.errors import LinerateError


class QMPError(LinerateError):
    """QEMU refused a command or the QMP socket failed."""


class QMP:
    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""

    def connect(self, wait: float = 10.0) -> None:
        deadline = time.monotonic() + wait
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.path))
                break
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                sock.close()
                if time.monotonic() > deadline:
                    raise QMPError(f"QMP socket {self.path} did not come up: {exc}") from exc
                time.sleep(0.05)
        self._sock = sock
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError(f"unexpected QMP greeting: {greeting}")
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        assert self._sock is not None
        while b"\n" not in self._buf:
            try:
                data = self._sock.recv(65536)
            except TimeoutError as exc:
                raise QMPError("QMP: no answer from QEMU") from exc
            if not data:
                raise QMPError("QMP: QEMU closed the socket")
            self._buf += data
        line, _, self._buf = self._buf.partition(b"\n")
        result: dict[str, Any] = json.loads(line)
        return result

    def execute(self, command: str, **arguments: Any) -> Any:
        if self._sock is None:
            raise QMPError("QMP is not connected")
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self._sock.sendall(json.dumps(msg).encode() + b"\n")
        for _ in range(1000):
            reply = self._read()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise QMPError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
            # else an asynchronous event: skip it
        raise QMPError(f"QMP {command}: no reply among 1000 events")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
