"""Getting an image into the board's RAM through U-Boot, and proving it arrived intact.

TFTP first (the flasher's own server; U-Boot's ``tftpboot``), ymodem (``loady``)
as the fallback for small files. Then U-Boot's ``crc32`` of the RAM range must
equal the host's CRC-32 of the file: nothing is erased before that.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from linerate.board.profile import Profile, Tftp
from linerate.console import ConsoleError, UBootDriver
from linerate.flash.errors import FlashError
from linerate.flash.progress import Progress
from linerate.flash.tftp import TftpError, TftpServer
from linerate.flash.ubootcmd import UBootCommands
from linerate.flash.ymodem import DEFAULT_MAX, YmodemSender

#: U-Boot variables the TFTP set-up changes for the time of the flash only.
NET_VARS = ("ipaddr", "serverip", "netmask", "gatewayip", "netretry")
#: Variables U-Boot's transfer commands set (tftpboot, loady): not to be saved.
TRANSIENT_VARS = ("fileaddr", "filesize", "ethact")
_BYTES_RE = re.compile(r"Bytes transferred = (\d+)")
_YMODEM_RE = re.compile(r"## Total Size\s*=\s*0x([0-9a-fA-F]+)")


@dataclass
class Loaded:
    """An image in RAM, CRC-checked."""

    address: int
    size: int
    crc: int
    transport: str
    seconds: float


def file_crc(path: Path) -> int:
    crc = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


class RamLoader:
    """Loads files into RAM for one flash; remembers the network variables it changed."""

    def __init__(
        self,
        uboot: UBootDriver,
        profile: Profile,
        progress: Progress,
        transport: str = "auto",
        tftp: Tftp | None = None,
        ymodem_max: int = DEFAULT_MAX,
        after_load: Callable[[Loaded], None] | None = None,
    ) -> None:
        if transport not in ("auto", "tftp", "ymodem"):
            raise FlashError(f"unknown transport {transport!r} (auto, tftp, ymodem)")
        self.uboot = uboot
        self.cmd = UBootCommands(uboot, profile.uboot.hush)
        self.profile = profile
        self.progress = progress
        self.transport = transport
        self.tftp = tftp or profile.tftp
        self.ymodem_max = ymodem_max
        #: Test hook: runs after the transfer, before the CRC check (e.g. to corrupt RAM).
        self.after_load = after_load
        #: Original values of the variables we set (None: it was not set).
        self.saved_net: dict[str, str | None] = {}

    # -- network variables ----------------------------------------------------------

    def _net_setup(self) -> None:
        t = self.tftp
        wanted = {
            "ipaddr": t.ipaddr,
            "serverip": t.serverip,
            "netmask": t.netmask,
            "gatewayip": t.gatewayip or "",
            # Give up after one round of retries instead of "starting again" forever.
            "netretry": "no",
        }
        env = self.uboot.printenv()
        for name, value in wanted.items():
            if env.get(name, "") != value:
                if name not in self.saved_net:
                    self.saved_net[name] = env.get(name)
                self.cmd.setenv(name, value)

    def restore_net(self) -> dict[str, str | None]:
        """The variables to put back before ``saveenv`` (name -> old value or None): the
        network variables we changed, and those U-Boot's transfer commands set."""
        return dict(self.saved_net)

    # -- loading ---------------------------------------------------------------------------

    def load(self, image: Path, address: int) -> Loaded:
        """Load ``image`` at ``address`` and check its CRC in RAM."""
        size = image.stat().st_size
        if size == 0:
            raise FlashError(f"{image} is empty")
        crc = file_crc(image)
        env = self.uboot.printenv()
        for name in TRANSIENT_VARS:
            self.saved_net.setdefault(name, env.get(name))
        transport = self.transport
        errors: list[str] = []
        loaded: Loaded | None = None
        if transport in ("auto", "tftp"):
            try:
                loaded = self._tftp(image, address, size, crc)
            except (FlashError, TftpError) as exc:
                if transport == "tftp":
                    raise
                errors.append(f"TFTP: {exc}")
                self.uboot.sync()
        if loaded is None:
            if size > self.ymodem_max and transport == "auto":
                raise FlashError(
                    f"TFTP failed and {image.name} ({size} bytes) is too big for the ymodem "
                    f"fallback (limit {self.ymodem_max} bytes, about 3.5 KB/s):\n"
                    + "\n".join(errors),
                    state="nothing written to flash: the board boots as before",
                    resume="fix the network (cable on the management port, the profile's tftp "
                    "addresses, --server-ip/--board-ip) and rerun, or force --transport ymodem",
                )
            if errors:
                self.progress.say(f"{errors[0]}; falling back to ymodem")
            loaded = self._ymodem(image, address, size, crc)
        if self.after_load is not None:
            self.after_load(loaded)
        self.check_crc(loaded)
        return loaded

    def check_crc(self, loaded: Loaded) -> None:
        self.progress.phase("CRC of the image in RAM")
        got = self.cmd.crc32(loaded.address, loaded.size)
        if got != loaded.crc:
            raise FlashError(
                f"CRC mismatch in RAM: U-Boot computed {got:08x} over {loaded.size:#x} bytes at "
                f"{loaded.address:#x}, the file's CRC-32 is {loaded.crc:08x} (transfer "
                f"corrupted, or RAM at {loaded.address:#x} is not usable)",
                state="nothing was erased or written: the board boots as before",
                resume="rerun linerate flash (if it repeats: check the profile's "
                "uboot.load_address and the RAM)",
            )
        self.progress.done(f"{got:08x} matches")

    @contextmanager
    def _server(self, image: Path) -> Iterator[TftpServer]:
        server = TftpServer(
            {image.name: image},
            host=self.tftp.bind,
            port=self.tftp.port,
            progress=lambda _n, done, total: self.progress.bytes(done, total),
            bind_wait=20.0,
        )
        with server:
            yield server

    def _tftp(self, image: Path, address: int, size: int, crc: int) -> Loaded:
        self.progress.phase(f"TFTP {image.name} to RAM {address:#x}")
        self._net_setup()
        with self._server(image) as server:
            # U-Boot's own progress is a line of '#': allow minutes for big files.
            timeout = 60.0 + size / 100_000
            try:
                out = self.uboot.send_command(
                    f"tftpboot {address:#x} {image.name}", timeout=timeout
                )
            except ConsoleError as exc:
                raise FlashError(f"tftpboot did not finish: {exc}") from exc
            m = _BYTES_RE.search(out)
            if not m:
                tail = out.strip().splitlines()[-3:]
                raise FlashError(
                    f"tftpboot failed: {' / '.join(tail)} (server {self.tftp.serverip}, board "
                    f"{self.tftp.ipaddr}: check the cable on the board's first port and the "
                    "addresses)"
                )
            got = int(m.group(1))
            transfers = [t for t in server.transfers if t.name == image.name]
            seconds = transfers[-1].seconds if transfers else 0.0
        if got != size:
            raise FlashError(f"tftpboot received {got} bytes, the file has {size}")
        self.progress.done(f"{size} bytes, {size / max(seconds, 1e-3) / 1e6:.1f} MB/s")
        return Loaded(address, size, crc, "tftp", seconds)

    def _ymodem(self, image: Path, address: int, size: int, crc: int) -> Loaded:
        self.progress.phase(f"ymodem {image.name} to RAM {address:#x}")
        data = image.read_bytes()
        self.uboot.port.transcript.note(f"uboot loady {address:#x}")
        self.uboot.boot(f"loady {address:#x}")
        sender = YmodemSender(self.uboot.port, progress=self.progress.bytes)
        t0 = time.monotonic()
        sender.send(image.name, data)
        seconds = time.monotonic() - t0
        self.uboot.port.expect("\\n" + re.escape(self.uboot.prompt), timeout=15.0)
        out = self.uboot.port.before
        m = _YMODEM_RE.search(out)
        if m and int(m.group(1), 16) != size:
            raise FlashError(f"loady received {int(m.group(1), 16)} bytes, the file has {size}")
        self.uboot.sync()
        self.progress.done(f"{size} bytes, {size / max(seconds, 1e-3) / 1e3:.1f} KB/s")
        return Loaded(address, size, crc, "ymodem", seconds)
