"""Reboots in a row (ten unless `--reboots N`) come up the same way (same kernel, slot, MACs,
attachments)."""

from __future__ import annotations

import time

from board_helpers import ndiv_table

from linerate.console import ConsoleTimeoutError
from linerate.console.patterns import UBOOT_SIGNON


def _signature(control, board_profile) -> dict[str, str]:
    shell = control.shell
    sig = {"kernel": shell.check("uname -r").strip()}
    for port in board_profile.ports:
        status, mac = shell.run(f"cat /sys/class/net/{port.name}/address")
        sig[f"mac {port.name}"] = mac.strip() if status == 0 else "(missing)"
    status, table = shell.run("cat /proc/net/ndiv")
    sig["ndiv"] = ",".join(sorted(ndiv_table(table))) if status == 0 else "(none)"
    return sig


def _booted_image(log: str) -> str:
    for line in log.splitlines():
        if "Legacy Image at" in line:
            return line.strip()
    return "(no legacy image line)"


def test_reboots_come_up_the_same(at_shell, board_profile, console_log, pytestconfig):
    control = at_shell
    reboots = int(pytestconfig.getoption("--reboots"))
    assert reboots >= 1, "--reboots must be at least 1"
    first = _signature(control, board_profile)
    times = []
    for i in range(reboots):
        t0 = time.monotonic()
        control.port.transcript.note(f"reboot {i + 1} of {reboots}")
        with control.port.allow(UBOOT_SIGNON):
            control.port.sendline("reboot")
            try:
                control.port.expect(r"U-Boot 20\d\d", timeout=60.0)
            except ConsoleTimeoutError as exc:
                raise AssertionError(
                    f"reboot {i + 1}: `reboot` did not restart the board in 60 s (init "
                    "shutdown hung, or the kernel cannot restart the machine)"
                ) from exc
            log = control.shell.wait_for_shell(timeout=180.0)
        times.append(time.monotonic() - t0)
        sig = _signature(control, board_profile)
        sig_image = _booted_image(log)
        if i == 0:
            first_image = sig_image
        assert sig == first, f"reboot {i + 1}: {sig} differs from {first}"
        assert sig_image == first_image, f"reboot {i + 1} booted {sig_image}, first {first_image}"
    report = ", ".join(f"{t:.1f}" for t in times)
    (console_log.parent / "timings.txt").write_text(f"reboot to shell (s): {report}\n")
    print(f"reboot to shell (s): {report}")
