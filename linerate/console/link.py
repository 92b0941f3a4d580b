"""Open a board's console, wherever it is: a local UART or pty, or a console served over
the network (``rfc2217://HOST:PORT`` as ser2net and labgrid's exporters serve it,
``socket://HOST:PORT`` for a raw TCP console).

Every user of a console (the pexpect drivers, ymodem, the interactive relay) works on
a file descriptor. A local port gives its own; a network console is opened with
pyserial's URL handlers and relayed, by two threads, to one end of a socket pair
whose other end is that descriptor, so everything above works the same on both.
"""

from __future__ import annotations

import errno
import socket
import threading
from pathlib import Path

import serial

from linerate.console.errors import PortError

NETWORK_SCHEMES = ("rfc2217://", "socket://")


def is_network(device: str) -> bool:
    return device.startswith(NETWORK_SCHEMES)


class Link:
    """An open console: ``fileno()`` to read and write, ``close()`` to let it go."""

    def __init__(self, device: str, baud: int) -> None:
        self.device = device
        self.baud = baud
        self._serial: serial.SerialBase | None = None
        self._local: socket.socket | None = None
        self._remote_end: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def open(self) -> Link:
        if is_network(self.device):
            self._open_network()
        else:
            self._open_local()
        return self

    def _open_local(self) -> None:
        try:
            self._serial = serial.Serial(
                self.device, self.baud, timeout=0, exclusive=True, rtscts=False, xonxoff=False
            )
        except (serial.SerialException, OSError) as exc:
            raise PortError(local_hint(self.device, exc)) from exc

    def _open_network(self) -> None:
        url = self.device
        if url.startswith("rfc2217://") and "?" not in url:
            # ser2net does not answer SET_CONTROL (flow control) as pyserial waits for:
            # pyserial's documented switch for it. A URL with options is taken as given.
            url += "?ign_set_control"
        try:
            ser = serial.serial_for_url(url, baudrate=self.baud, timeout=0.1)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(
                f"cannot reach the console {self.device}: {exc}: check that its server "
                "(ser2net, a labgrid exporter, the virtual board) runs and listens there, "
                "and the host and port"
            ) from exc
        self._serial = ser
        self._local, self._remote_end = socket.socketpair()
        for target in (self._pump_in, self._pump_out):
            t = threading.Thread(target=target, daemon=True, name=f"console {self.device}")
            t.start()
            self._threads.append(t)

    def _pump_in(self) -> None:
        """Network console -> our end of the pair."""
        assert self._serial is not None and self._remote_end is not None
        while not self._stop.is_set():
            try:
                data = self._serial.read(4096)
            except (serial.SerialException, OSError):
                break
            if data:
                try:
                    self._remote_end.sendall(data)
                except OSError:
                    break
        self._hang_up()

    def _pump_out(self) -> None:
        """Our end of the pair -> network console."""
        assert self._serial is not None and self._remote_end is not None
        self._remote_end.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = self._remote_end.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                self._serial.write(data)
            except (serial.SerialException, OSError):
                break
        self._hang_up()

    def _hang_up(self) -> None:
        # The far end went away: readers of fileno() see end of file.
        if self._remote_end is not None:
            try:
                self._remote_end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def fileno(self) -> int:
        if self._local is not None:
            return self._local.fileno()
        if self._serial is None:
            raise PortError(f"console {self.device} is not open")
        return self._serial.fileno()

    def close(self) -> None:
        self._stop.set()
        # The pumps first (they wake within their 0.1/0.2 s timeouts): closing the network
        # console under a pump's read() made pyserial's socket:// handler raise in the thread.
        for t in self._threads:
            t.join(timeout=2.0)
        for s in (self._local, self._remote_end):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        if self._serial is not None:
            try:
                self._serial.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=2.0)
        self._serial = self._local = self._remote_end = None
        self._threads = []


def local_hint(dev: str, exc: BaseException) -> str:
    """What to check when a local port does not open."""
    text = str(exc)
    err = getattr(exc, "errno", None)
    if (
        err == errno.ENOENT
        or "No such file" in text
        or "could not open port" in text
        and (not Path(dev).exists())
    ):
        return (
            f"no such port {dev}: check the USB-serial adapter is plugged in and the name "
            "(ls /dev/ttyUSB* /dev/ttyACM*; for the virtual board, the pty QEMU printed; a "
            "network console is rfc2217://HOST:PORT or socket://HOST:PORT)"
        )
    if err == errno.EACCES or "Permission denied" in text:
        return f"no permission to open {dev}: run as root or join the 'dialout' group"
    if err in (errno.EBUSY, errno.EAGAIN) or "lock" in text.lower() or "busy" in text.lower():
        return (
            f"port {dev} is busy: another program holds it (screen, minicom, picocom, "
            "another linerate or test run): close it and retry"
        )
    if err == errno.ENOTTY or "Inappropriate ioctl" in text:
        return f"{dev} is not a serial port: check the device name"
    return f"cannot open {dev}: {text}: check the device name and that nothing else uses it"
