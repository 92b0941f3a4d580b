"""A board to work on: a real one on a serial port, or the virtual board.

Both give a console (:class:`SerialPort`), a :class:`BoardControl` for it, the
image the flasher writes to NOR (``nor_image``), and where the host reaches
SLHTTPD on each test port (``http_endpoint``). The virtual board is started by
the target and always stopped when it closes.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from linerate import ROOT
from linerate.board.control import BoardControl
from linerate.board.profile import Port, Profile
from linerate.console import SerialPort
from linerate.console.transcript import Transcript
from linerate.errors import LinerateError
from linerate.vboard.images import BoardImages, build_images
from linerate.vboard.launcher import VirtualBoard


class Target:
    """Common part; use :class:`SerialTarget` or :class:`VirtualTarget`."""

    profile: Profile
    port: SerialPort
    control: BoardControl
    #: Whether the booted kernel has ndiv (None: unknown, e.g. a real board before boot).
    has_ndiv: bool | None = None
    kernel_description = ""

    def start(self) -> Target:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def http_endpoint(self, port: Port) -> tuple[str, int]:
        """(host, TCP port) where this host reaches SLHTTPD on the board's ``port``."""
        if port.address is None:
            raise LinerateError(f"port {port.name} has no address in {self.profile.path}")
        return port.address.split("/")[0], port.http_port

    def nor_image(self) -> Path:
        rel = self.profile.images.get("nor")
        if rel is None:
            raise LinerateError(f"the {self.profile.name} profile names no NOR image (images.nor)")
        path = ROOT / rel
        if not path.is_file():
            raise LinerateError(
                f"{path} does not exist: build it (kas build kas.yml:board/{self.profile.name}/"
                "kas.yml) or give --image"
            )
        return path

    def retarget_transcript(self, path: Path | None) -> Transcript:
        """Record the console from now on in ``path`` (one transcript per test)."""
        old = self.port.transcript
        new = Transcript(path)
        self.port.transcript = new
        self.port.spawn.logfile_read = new
        old.close()
        return new

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SerialTarget(Target):
    """A real board on ``device`` (a USB-serial adapter)."""

    def __init__(self, profile: Profile, device: str, transcript: Path | None = None) -> None:
        self.profile = profile
        self.port = SerialPort(device, baud=profile.console.baud, transcript=transcript)
        self.control = BoardControl(profile, self.port)

    def start(self) -> SerialTarget:
        self.port.open()
        return self

    def close(self) -> None:
        self.port.close()


class VirtualTarget(Target):
    """The virtual board, started paused so no console output is lost."""

    def __init__(
        self,
        profile: Profile,
        transcript: Path | None = None,
        images: BoardImages | None = None,
    ) -> None:
        self.profile = profile
        self.images = images
        self._transcript = transcript
        self.board: VirtualBoard | None = None

    def start(self) -> VirtualTarget:
        if self.images is None:
            self.images = build_images()
        self.has_ndiv = self.images.kernel.has_ndiv
        self.kernel_description = self.images.kernel.description
        board = VirtualBoard(self.images)
        self.board = board
        try:
            board.start(paused=True)
            assert board.pty is not None
            self.port = SerialPort(
                board.pty, baud=self.profile.console.baud, transcript=self._transcript
            ).open()
            self.control = BoardControl(self.profile, self.port, power_cycle=board.reset)
            board.resume()
        except BaseException:
            self.close()
            raise
        return self

    @property
    def vboard(self) -> VirtualBoard:
        if self.board is None:
            raise LinerateError("the virtual board is not started")
        return self.board

    def http_endpoint(self, port: Port) -> tuple[str, int]:
        forwards = self.vboard.forwards
        if port.http_port not in forwards:
            raise LinerateError(f"guest port {port.http_port} is not forwarded to the host")
        return "127.0.0.1", forwards[port.http_port]

    def nor_image(self) -> Path:
        assert self.images is not None
        return Path(self.images.uimage)

    def close(self) -> None:
        port = getattr(self, "port", None)
        if port is not None:
            port.close()
        if self.board is not None:
            self.board.cleanup()
            self.board = None


def open_target(profile: Profile, device: str | None, transcript: Path | None = None) -> Target:
    """The target (not started: use it as a context manager): the device if given, else
    the virtual board (virt profile only)."""
    if device:
        return SerialTarget(profile, device, transcript)
    if not profile.virtual:
        raise LinerateError(
            f"board {profile.name} is real hardware: give its console with --port "
            "(e.g. /dev/ttyUSB0)"
        )
    return VirtualTarget(profile, transcript)
