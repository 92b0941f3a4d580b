"""A booted virtual board with its console drivers: what tests and the board suite use.

    with VboardSession(images, transcript=Path("artifacts/vboard.log")) as s:
        s.uboot_env["ethaddr"]; s.shell.check("uname -r"); s.board.http_port

The session starts QEMU paused, opens the console, resumes, stops U-Boot's
autoboot (to read its environment), boots ``bootcmd`` and waits for the shell.
Everything is bounded by timeouts and QEMU is always stopped on exit.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from linerate.console import LinuxShell, SerialPort, UBootDriver
from linerate.console.patterns import UBOOT_SIGNON
from linerate.vboard.images import BoardImages
from linerate.vboard.launcher import VirtualBoard

PROMPT = "linerate-vboard# "


class VboardSession:
    def __init__(
        self,
        images: BoardImages,
        transcript: Path | None = None,
        direct_kernel: bool = False,
        stop_in_uboot: bool = True,
        run_dir: Path | None = None,
        boot_timeout: float = 120.0,
        boot_linux: bool = True,
    ) -> None:
        self.board = VirtualBoard(images, run_dir=run_dir, direct_kernel=direct_kernel)
        self.transcript = transcript
        self.stop_in_uboot = stop_in_uboot and not direct_kernel
        self.boot_timeout = boot_timeout
        self.boot_linux = boot_linux
        self.port: SerialPort | None = None
        self.uboot_env: dict[str, str] = {}
        self.uboot_log = ""
        self.boot_log = ""
        #: Seconds from power-on (QEMU resumed) to U-Boot's prompt and to the shell.
        self.time_to_uboot: float | None = None
        self.time_to_shell: float | None = None

    @property
    def uboot(self) -> UBootDriver:
        return UBootDriver(self._port())

    @property
    def shell(self) -> LinuxShell:
        return LinuxShell(self._port(), prompt=PROMPT)

    def _port(self) -> SerialPort:
        if self.port is None:
            raise RuntimeError("the session is not started")
        return self.port

    def start(self) -> VboardSession:
        try:
            self.board.start(paused=True)
            assert self.board.pty is not None
            self.port = SerialPort(self.board.pty, transcript=self.transcript).open()
            self.board.resume()
            t0 = time.monotonic()
            if self.stop_in_uboot:
                self.uboot_log = self.uboot.stop_autoboot(timeout=30.0)
                self.time_to_uboot = time.monotonic() - t0
                self.uboot_env = self.uboot.printenv()
                if not self.boot_linux:
                    return self
                self.uboot.boot("run bootcmd")
            elif not self.board.direct_kernel:
                # Let U-Boot autoboot: its sign-on is expected until the kernel starts.
                with self._port().allow(UBOOT_SIGNON):
                    self._port().expect("Starting kernel", timeout=60.0)
                self.uboot_log = self._port().before
            self.boot_log = self.shell.wait_for_shell(timeout=self.boot_timeout)
            self.time_to_shell = time.monotonic() - t0
        except BaseException:
            self.close()
            raise
        return self

    def boot_from_uboot(self, command: str = "run bootcmd") -> str:
        """From U-Boot's prompt, boot and wait for the shell; return the boot log."""
        self.uboot.boot(command)
        self.boot_log = self.shell.wait_for_shell(timeout=self.boot_timeout)
        return self.boot_log

    def reboot_to_uboot(self) -> None:
        """Reset the board and stop in U-Boot (the sign-on is expected here)."""
        self.board.reset()
        self.uboot_log = self.uboot.stop_autoboot(timeout=30.0)

    def close(self) -> None:
        if self.port is not None:
            self.port.close()
            self.port = None
        self.board.cleanup()

    def __enter__(self) -> VboardSession:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
