"""The board strategy: one way to bring any board, virtual or real, where a caller needs it.

``BoardStrategy`` builds the U-Boot and Linux shell drivers from the profile (both
keep one contract: ``run() -> (status, output)``, ``check() -> output``) and moves
the board between its states (:class:`State`): to U-Boot's prompt (from a running
Linux with ``reboot``, else by power-cycling: a command, the virtual board's reset,
or asking a person), or to a shell (boot from U-Boot, log in). The connection to
the board (a serial port, or QEMU's pty and reset) is the target's business
(:mod:`linerate.board.target`), as labgrid splits drivers from strategies.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from enum import Enum

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


class BoardStrategyError(LinerateError):
    """The board could not be brought to the wanted state."""


class State(Enum):
    """Where a board is, as its console shows it."""

    #: Silent, booting, stuck, or showing something else.
    UNKNOWN = "unknown"
    #: At U-Boot's prompt.
    UBOOT = "uboot"
    #: At a Linux shell prompt.
    SHELL = "shell"
    #: At a Linux login prompt.
    LOGIN = "login"


class BoardStrategy:
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
        #: U-Boot's environment as read at the last :meth:`power_on` that stopped there.
        self.uboot_env: dict[str, str] = {}
        #: Seconds from power-on to U-Boot's prompt and to the shell (:meth:`power_on`).
        self.time_to_uboot: float | None = None
        self.time_to_shell: float | None = None

    # -- where is the board? ------------------------------------------------------

    def probe(self, timeout: float = 3.0) -> State:
        """Where the board is now (it is asked: an echo through whatever answers)."""
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
            return State.UNKNOWN
        return (State.UBOOT, State.SHELL, State.LOGIN)[index]

    def transition(self, state: State, timeout: float = 180.0) -> str:
        """Bring the board to ``state`` (U-Boot or a shell) from wherever it is; return how."""
        if state is State.UBOOT:
            return self.to_uboot(timeout=timeout)
        if state is State.SHELL:
            return self.ensure_shell(timeout=timeout)
        raise BoardStrategyError(f"cannot bring a board to {state.value}: ask for UBOOT or SHELL")

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
                raise BoardStrategyError(
                    f"power-cycle command {' '.join(power.command)} failed: {exc}: check the "
                    f"profile's power.command ({self.profile.path})"
                ) from exc
        elif power.method == "qemu":
            raise BoardStrategyError(
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
        self.port.transcript.note(f"board state: {state.value}")
        if state is State.UBOOT:
            self.uboot.sync()
            return "already at U-Boot"
        if state in (State.SHELL, State.LOGIN):
            if state is State.LOGIN:
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
        self.port.transcript.note(f"board state: {state.value}")
        if state is State.SHELL:
            return "already at a shell"
        if state is State.LOGIN:
            self._login()
            return "logged in"
        self.to_uboot()
        self.boot("boot", timeout=timeout)
        return "booted"

    def power_on(
        self,
        state: State,
        *,
        stop_in_uboot: bool = True,
        uboot: bool = True,
        boot_command: str = "run bootcmd",
        timeout: float = 120.0,
    ) -> None:
        """Right after power-on (or a reset): reach ``state`` and time it.

        ``stop_in_uboot``: interrupt autoboot and read the environment on the way (else
        let U-Boot autoboot; its sign-on is expected until the kernel starts).
        ``uboot=False``: the board has no U-Boot (a kernel started directly)."""
        t0 = time.monotonic()
        if uboot and (stop_in_uboot or state is State.UBOOT):
            self.uboot_log = self.uboot.stop_autoboot(timeout=30.0)
            self.time_to_uboot = time.monotonic() - t0
            self.uboot_env = self.uboot.printenv()
            if state is State.UBOOT:
                return
            self.uboot.boot(boot_command)
        elif uboot:
            with self.port.allow(UBOOT_SIGNON):
                self.port.expect("Starting kernel", timeout=60.0)
            self.uboot_log = self.port.before
        if state is not State.SHELL:
            raise BoardStrategyError(f"power_on reaches UBOOT or SHELL, not {state.value}")
        self.boot_log = self.shell.wait_for_shell(timeout=timeout)
        self.time_to_shell = time.monotonic() - t0

    def boot(self, command: str = "boot", timeout: float = 180.0) -> str:
        """From U-Boot's prompt: boot and wait for the shell; return the boot log."""
        t0 = time.monotonic()
        self.uboot.boot(command)
        self.boot_log = self.shell.wait_for_shell(timeout=timeout)
        self.port.transcript.note(f"shell after {time.monotonic() - t0:.1f} s")
        return self.boot_log
