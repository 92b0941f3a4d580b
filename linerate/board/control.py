"""Drive one board through its console, as its profile describes it.

``BoardControl`` builds the U-Boot and Linux shell drivers from the profile and
knows how to get the board where a caller needs it: at U-Boot's prompt (from a
running Linux with ``reboot``, else by power-cycling: a command, the virtual
board's reset, or asking a person), or at a shell (boot from U-Boot, log in).
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable

from linerate.board.profile import Profile
from linerate.console import (
    ConsoleError,
    ConsoleTimeoutError,
    LinuxShell,
    SerialPort,
    UBootDriver,
)
from linerate.console.patterns import UBOOT_SIGNON
from linerate.errors import LinerateError

#: A way to power-cycle (or reset) the board; None: ask a person on the terminal.
PowerCycle = Callable[[], None]


class BoardControlError(LinerateError):
    """The board could not be brought to the wanted state."""


class BoardControl:
    def __init__(
        self,
        profile: Profile,
        port: SerialPort,
        power_cycle: PowerCycle | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.profile = profile
        self.port = port
        self._power_cycle = power_cycle
        self.say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
        c = profile.console
        self.uboot = UBootDriver(
            port,
            prompt=c.uboot_prompt,
            autoboot_text=c.autoboot_text,
            stop_key=c.stop_key,
            max_line=c.max_line,
        )
        login = c.login
        self.shell = LinuxShell(
            port,
            prompt=c.shell_prompt,
            username=login.user if login else "root",
            password=login.password if login else None,
        )
        #: The last boot log (from U-Boot's ``boot`` to the shell) and U-Boot's sign-on log.
        self.boot_log = ""
        self.uboot_log = ""

    # -- where is the board? ------------------------------------------------------

    def probe(self, timeout: float = 3.0) -> str:
        """``"uboot"``, ``"shell"``, ``"login"`` or ``"unknown"`` (silent, booting, stuck)."""
        c = self.profile.console
        token = "p" + secrets.token_hex(4)
        self.port.send("\x03")
        self.port.drain(quiet=0.2, limit=1.5)
        self.port.sendline(f"echo {token}")
        patterns = [
            re.compile(f"\\n{token}\\r?\\n{re.escape(c.uboot_prompt)}"),
            re.compile(f"\\n{token}\\r?\\n(?:.*\\n)*?.*{re.escape(c.shell_prompt)}"),
            re.compile(r"login: ?$"),
        ]
        try:
            index = self.port.expect(patterns, timeout=timeout)
        except ConsoleError:
            return "unknown"
        return ("uboot", "shell", "login")[index]

    # -- getting to U-Boot ----------------------------------------------------------

    def power_cycle(self) -> None:
        """Power-cycle the board (the caller then waits for U-Boot's countdown)."""
        power = self.profile.power
        self.port.transcript.note(f"power cycle ({power.method})")
        if self._power_cycle is not None:
            self._power_cycle()
        elif power.method == "command":
            try:
                subprocess.run(list(power.command), check=True, timeout=60)
            except (OSError, subprocess.SubprocessError) as exc:
                raise BoardControlError(
                    f"power-cycle command {' '.join(power.command)} failed: {exc}: check the "
                    f"profile's power.command ({self.profile.path})"
                ) from exc
        elif power.method == "qemu":
            raise BoardControlError(
                "the virtual board is reset through linerate.vboard: pass power_cycle"
            )
        else:
            self.say(
                f"power-cycle the {self.profile.name} board now (switch it off and on); "
                "waiting 120 s for U-Boot"
            )

    def to_uboot(self, timeout: float = 120.0) -> str:
        """Bring the board to U-Boot's prompt from wherever it is; return how."""
        state = self.probe()
        self.port.transcript.note(f"board state: {state}")
        if state == "uboot":
            self.uboot.sync()
            return "already at U-Boot"
        if state in ("shell", "login"):
            if state == "login":
                self._login()
            return "restarted from Linux (" + self.reboot_to_uboot(timeout=timeout) + ")"
        self.power_cycle()
        self.uboot_log = self.uboot.stop_autoboot(timeout=timeout)
        return "power-cycled"

    def reboot_to_uboot(self, timeout: float = 120.0, graceful: float = 45.0) -> str:
        """From a shell: ``reboot``, then stop U-Boot's autoboot. If the board does not
        restart in ``graceful`` seconds: ``reboot -f``, then a power cycle. Returns how."""
        with self.port.allow(UBOOT_SIGNON):
            self.port.sendline("reboot")
            try:
                self.uboot_log = self.uboot.stop_autoboot(timeout=graceful)
                return "reboot"
            except ConsoleTimeoutError:
                self.say(f"`reboot` did not restart the board in {graceful:.0f} s: reboot -f")
            self.port.send("\x03")
            self.port.sendline("reboot -f")
            try:
                self.uboot_log = self.uboot.stop_autoboot(timeout=30.0)
                return "reboot -f"
            except ConsoleTimeoutError:
                self.say("`reboot -f` did not restart the board either: power-cycling")
            self.power_cycle()
            self.uboot_log = self.uboot.stop_autoboot(timeout=timeout)
            return "power cycle"

    def reset_to_uboot(self, timeout: float = 60.0) -> None:
        """Power-cycle (or reset) and stop U-Boot's autoboot."""
        with self.port.allow(UBOOT_SIGNON):
            self.power_cycle()
            self.uboot_log = self.uboot.stop_autoboot(timeout=timeout)

    # -- getting to Linux -------------------------------------------------------------

    def _login(self) -> None:
        # The probe's echo went to login as a user name: an empty line brings a fresh
        # "login:" prompt, which wait_for_shell answers with the profile's user.
        self.port.sendline("")
        self.shell.wait_for_shell(timeout=30.0)

    def ensure_shell(self, timeout: float = 180.0) -> str:
        """Bring the board to a shell from wherever it is; return how."""
        state = self.probe()
        self.port.transcript.note(f"board state: {state}")
        if state == "shell":
            return "already at a shell"
        if state == "login":
            self._login()
            return "logged in"
        self.to_uboot()
        self.boot("boot", timeout=timeout)
        return "booted"

    def boot(self, command: str = "boot", timeout: float = 180.0) -> str:
        """From U-Boot's prompt: boot and wait for the shell; return the boot log."""
        t0 = time.monotonic()
        self.uboot.boot(command)
        self.boot_log = self.shell.wait_for_shell(timeout=timeout)
        self.port.transcript.note(f"shell after {time.monotonic() - t0:.1f} s")
        return self.boot_log
