"""A board to work on: a real one on a serial port, or the virtual board.

Both give a console (:class:`SerialPort`), the one :class:`BoardStrategy` for it
(``strategy``: its drivers and states), the image the flasher writes to NOR
(``nor_image``), and where the host reaches SLHTTPD on each test port
(``http_endpoint``). The virtual board is started by the target and always
stopped when it closes; ``boot_to`` brings it to U-Boot or a shell right after
power-on (timed: ``strategy.time_to_uboot``, ``strategy.time_to_shell``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from linerate import ROOT
from linerate.board.profile import Port, Profile, load_profile
from linerate.board.strategy import BoardStrategy, State
from linerate.console import SerialPort
from linerate.console.transcript import Transcript
from linerate.errors import LinerateError
from linerate.vboard.images import BoardImages, build_board_images
from linerate.vboard.launcher import VirtualBoard
from linerate.vboard.ser2net import Ser2net


class Target:
    """Common part; use :class:`SerialTarget` or :class:`VirtualTarget`."""

    profile: Profile
    port: SerialPort
    strategy: BoardStrategy
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
        self.strategy = BoardStrategy(profile, self.port)

    def start(self) -> SerialTarget:
        self.port.open()
        return self

    def close(self) -> None:
        self.port.close()


class VirtualTarget(Target):
    """The virtual board, started paused so no console output is lost.

    ``boot_to``: after power-on, reach U-Boot (``State.UBOOT``) or a shell
    (``State.SHELL``), stopping in U-Boot on the way unless ``stop_in_uboot`` is
    False; None leaves the board running (the strategy finds it later).
    ``direct_kernel``: QEMU starts the kernel itself (no U-Boot). ``board_options``: more
    keyword arguments for :class:`VirtualBoard` (e.g. ``{"tap": True}``: the test port
    cabled to a tap in a namespace, ``board.cable``)."""

    def __init__(
        self,
        profile: Profile | None = None,
        transcript: Path | None = None,
        images: BoardImages | None = None,
        *,
        boot_to: State | None = None,
        stop_in_uboot: bool = True,
        direct_kernel: bool = False,
        run_dir: Path | None = None,
        boot_timeout: float = 120.0,
        console: str = "pty",
        nic: str = "e1000",
        tap: bool = False,
        board_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.profile = profile or load_profile("virt")
        #: How the console is reached: QEMU's pty, or through ser2net as a lab serves a
        #: real board's ("socket": socket://, "rfc2217": rfc2217://).
        self.console = console
        self._ser2net: Ser2net | None = None
        self.images = images
        self._transcript = transcript
        self.board: VirtualBoard | None = None
        self.boot_to = boot_to
        self.stop_in_uboot = stop_in_uboot
        self.direct_kernel = direct_kernel
        self.run_dir = run_dir
        self.boot_timeout = boot_timeout
        #: the test port's NIC model (linerate.vboard.launcher.NIC_MODELS)
        self.nic = nic
        #: the test port cabled to a tap in a namespace of its own (linerate.vboard.tap)
        self.tap = tap
        #: further VirtualBoard options
        self.board_options = dict(board_options or {})

    def start(self) -> VirtualTarget:
        if self.images is None:
            self.images = build_board_images(self.profile.name)
        self.has_ndiv = self.images.kernel.has_ndiv and self.images.no_ndiv_reason is None
        self.kernel_description = self.images.kernel.description
        if self.images.no_ndiv_reason:
            self.kernel_description += f"; {self.images.no_ndiv_reason}"
        board = launch(
            self.images,
            run_dir=self.run_dir,
            direct_kernel=self.direct_kernel,
            **{"nic": self.nic, "tap": self.tap, **self.board_options},
        )
        self.board = board
        try:
            board.start(paused=True)
            assert board.pty is not None
            device = board.pty
            if self.console != "pty":
                self._ser2net = Ser2net(board.pty, self.console, self.profile.console.baud)
                device = self._ser2net.start()
            self.port = SerialPort(
                device, baud=self.profile.console.baud, transcript=self._transcript
            ).open()
            self.strategy = BoardStrategy(self.profile, self.port, power_cycle=board.reset)
            board.resume()
            if self.boot_to is not None:
                self.strategy.power_on(
                    self.boot_to,
                    stop_in_uboot=self.stop_in_uboot,
                    uboot=not self.direct_kernel,
                    timeout=self.boot_timeout,
                )
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
        if self._ser2net is not None:
            self._ser2net.stop()
            self._ser2net = None
        if self.board is not None:
            self.board.cleanup()
            self.board = None


def launch(
    images: BoardImages, run_dir: Path | None, direct_kernel: bool, **options: Any
) -> VirtualBoard:
    """The QEMU machine the images are for (not started); ``options`` go to VirtualBoard
    (``nic``: the test port's model, ``tap``: the test port cabled)."""
    if images.machine == "vexpress":
        from linerate.vboard.vexpress import VexpressBoard

        if direct_kernel:
            raise LinerateError("the vexpress board always boots through its U-Boot")
        # its one NIC is the LAN9118: no other model, no cable
        given = {k for k, v in options.items() if (k, v) not in {("nic", "e1000"), ("tap", False)}}
        if given:
            raise LinerateError(f"the vexpress board takes no {', '.join(sorted(given))}")
        return VexpressBoard(images, run_dir=run_dir)
    return VirtualBoard(images, run_dir=run_dir, direct_kernel=direct_kernel, **options)


def open_target(profile: Profile, device: str | None, transcript: Path | None = None) -> Target:
    """The target (not started: use it as a context manager): the device if given, else
    the virtual board of a virtual profile (virt, vexpress)."""
    if device:
        return SerialTarget(profile, device, transcript)
    if not profile.virtual:
        raise LinerateError(
            f"board {profile.name} is real hardware: give its console with --port "
            "(e.g. /dev/ttyUSB0)"
        )
    return VirtualTarget(profile, transcript)
