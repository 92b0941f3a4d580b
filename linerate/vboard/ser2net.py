"""The virtual board's console served over the network by ser2net, as a lab serves a
real board's (ser2net, labgrid's exporters): ``socket://`` (raw TCP) or
``rfc2217://`` (telnet with RFC 2217 serial control), on 127.0.0.1 only."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from linerate.errors import LinerateError

KINDS = ("socket", "rfc2217")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Ser2net:
    """``with Ser2net("/dev/pts/3", "rfc2217") as url:`` -> ``rfc2217://127.0.0.1:PORT``."""

    def __init__(self, device: str, kind: str, baud: int = 115200) -> None:
        if kind not in KINDS:
            raise LinerateError(f"console kind {kind!r}: one of {', '.join(KINDS)}")
        self.device = device
        self.kind = kind
        self.baud = baud
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.kind}://127.0.0.1:{self.port}"

    def start(self) -> str:
        exe = shutil.which("ser2net")
        if exe is None:
            raise LinerateError("ser2net is not installed (apt-get install ser2net; make deps)")
        self.port = _free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="linerate-ser2net-")
        accepter = "tcp" if self.kind == "socket" else "telnet(rfc2217),tcp"
        conf = Path(self._dir.name) / "ser2net.yaml"
        conf.write_text(
            "%YAML 1.1\n---\n"
            "connection: &vboard\n"
            f"  accepter: {accepter},127.0.0.1,{self.port}\n"
            f"  connector: serialdev,{self.device},{self.baud}n81,local\n"
            "  options:\n"
            "    kickolduser: true\n"
        )
        log = (Path(self._dir.name) / "ser2net.log").open("wb")
        self._proc = subprocess.Popen(
            [exe, "-n", "-c", str(conf), "-P", str(Path(self._dir.name) / "pid")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                text = (Path(self._dir.name) / "ser2net.log").read_text(errors="replace")
                raise LinerateError(f"ser2net exited at start: {text.strip()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self.url
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise LinerateError(f"ser2net did not listen on 127.0.0.1:{self.port} within 10 s")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
