"""U-Boot and Linux shell drivers against a scripted peer on a real pty.

The real U-Boot and busybox are exercised in tests/vboard; here the peer lets the
error paths happen on demand: lost characters, unknown commands, kernel messages
interleaved with command output.
"""

from __future__ import annotations

import os
import re
import select
import threading
from collections.abc import Callable, Iterator

import pytest

from linerate.console import (
    BadPatternError,
    CommandFailedError,
    ConsoleError,
    LinuxShell,
    SerialPort,
    UBootDriver,
)
from linerate.console.uboot import parse_printenv

Responder = Callable[[str], str]


class Peer(threading.Thread):
    """Echoes what it receives like a line editor; on Enter, answers ``respond(line)``."""

    def __init__(self, master: int, respond: Responder, prompt: str, mangle: str = "") -> None:
        super().__init__(daemon=True)
        self.master = master
        self.respond = respond
        self.prompt = prompt
        self.mangle = mangle
        self.stop = False
        self.line = ""

    def run(self) -> None:
        while not self.stop:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1024).decode()
            except OSError:
                return
            for ch in data:
                if ch == "\r":
                    out = self.respond(self.line)
                    self.line = ""
                    os.write(self.master, ("\r\n" + out + self.prompt).encode())
                elif ch == "\x03":
                    self.line = ""
                    os.write(self.master, ("<INTERRUPT>\r\n" + self.prompt).encode())
                else:
                    self.line += ch
                    echo = "#" if ch in self.mangle else ch
                    os.write(self.master, echo.encode())


def uboot_respond(line: str) -> str:
    m = re.fullmatch(r"(.*); echo (rc\w+)=\$\?", line)
    status = 0
    cmd = m.group(1) if m else line
    if cmd.startswith("echo "):
        out = cmd[5:] + "\r\n"
    elif cmd == "printenv":
        out = (
            "bootcmd=run boot_a; run boot_b\r\nethaddr=02:4c:52:00:00:01\r\n\r\n"
            "Environment size: 80/262140 bytes\r\n"
        )
    elif cmd.startswith("crc32 "):
        out = "crc32 for 04100000 ... 04100fff ==> 5b626ac2\r\n"
    elif cmd == "false":
        out, status = "", 1
    elif cmd.startswith("nosuch"):
        out, status = f"Unknown command '{cmd}' - try 'help'\r\n", 1
    else:
        out = ""
    if m:
        out += f"{m.group(2)}={status}\r\n"
    return out


@pytest.fixture
def console() -> Iterator[Callable[..., SerialPort]]:
    made: list[tuple[Peer, SerialPort, int, int]] = []

    def make(respond: Responder, prompt: str, mangle: str = "", banner: str = "") -> SerialPort:
        master, slave = os.openpty()
        peer = Peer(master, respond, prompt, mangle)
        port = SerialPort(os.ttyname(slave), timeout=5).open()
        if banner:
            os.write(master, banner.encode())
        peer.start()
        made.append((peer, port, master, slave))
        return port

    yield make
    for peer, port, master, slave in made:
        peer.stop = True
        peer.join(2)
        port.close()
        os.close(master)
        os.close(slave)


def test_uboot_run_checks_echo_and_returns_output(console):
    ub = UBootDriver(console(uboot_respond, "=> "))
    ub.sync()
    assert ub.send_command("echo hello") == "hello"
    assert ub.printenv() == {
        "bootcmd": "run boot_a; run boot_b",
        "ethaddr": "02:4c:52:00:00:01",
    }
    assert ub.crc32(0x04100000, 0x1000) == 0x5B626AC2
    assert ub.run("false") == (1, "")
    with pytest.raises(CommandFailedError, match="status 1"):
        ub.check("false")


def test_uboot_long_command_sent_in_chunks(console):
    ub = UBootDriver(console(uboot_respond, "=> "), chunk=8)
    ub.sync()
    text = "x" * 300
    assert ub.send_command(f"echo {text}") == text


def test_uboot_lost_characters_are_detected(console):
    ub = UBootDriver(console(uboot_respond, "=> ", mangle="q"), echo_timeout=0.5)
    ub.sync()
    with pytest.raises(ConsoleError, match="did not echo.*characters lost"):
        ub.send_command("echo quick")


def test_uboot_unknown_command_fails_at_once(console):
    ub = UBootDriver(console(uboot_respond, "=> "))
    ub.sync()
    with pytest.raises(BadPatternError, match="unknown command"):
        ub.send_command("nosuchcmd")


def test_uboot_line_limit(console):
    ub = UBootDriver(console(uboot_respond, "=> "), max_line=64)
    with pytest.raises(ConsoleError, match="line limit"):
        ub.send_command("echo " + "y" * 100)


def test_uboot_not_at_prompt(console):
    ub = UBootDriver(console(lambda line: "", "$ "), echo_timeout=0.5)
    with pytest.raises(ConsoleError, match="no U-Boot prompt"):
        ub.sync(attempts=2)


def shell_respond(line: str) -> str:
    """A shell that prints a kernel message in the middle of every command's output."""
    out = []
    for part in line.split("; "):
        m = re.fullmatch(r"echo (\w)''(\w+)(=\$\?)?", part)
        if m:
            out.append(f"{m.group(1)}{m.group(2)}" + ("=3" if m.group(3) else ""))
        elif part == "cat /etc/hostname":
            out.append("linerate-vboard")
            out.append("[   12.345678] e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex")
            out.append("second line")
    return "".join(s + "\r\n" for s in out)


def test_linux_run_status_and_output_without_kernel_messages(console):
    sh = LinuxShell(console(shell_respond, "linerate-vboard# "))
    sh.sync()
    status, out = sh.run("cat /etc/hostname")
    assert status == 3
    assert out == "linerate-vboard\nsecond line"
    with pytest.raises(CommandFailedError):
        sh.check("cat /etc/hostname")


def test_parse_printenv_joins_continuations():
    text = "a=1\nb=x\ny\nEnvironment size: 3/100 bytes\n"
    assert parse_printenv(text) == {"a": "1", "b": "x\ny"}


def test_linux_login_then_shell(console):
    """login: -> user, Password: -> password, then the prompt and a synced shell."""
    state = {"step": "user"}

    def respond(line: str) -> str:
        if state["step"] == "user":
            state["step"] = "password"
            return "Password: " if line == "root" else "login: "
        if state["step"] == "password":
            state["step"] = "shell"
            return "linerate# " if line == "secret" else "Login incorrect\r\nlogin: "
        return shell_respond(line) + "linerate# "

    port = console(respond, "", banner="\r\nlinerate-vboard login: ")
    sh = LinuxShell(port, prompt="linerate# ", password="secret")
    sh.wait_for_shell(timeout=5)
    assert state["step"] == "shell"
    assert sh.run("cat /etc/hostname")[1] == "linerate-vboard\nsecond line"


def test_both_drivers_keep_one_command_contract():
    """U-Boot and Linux drivers: run() -> (status, output), check() -> output."""
    import inspect

    from linerate.console import CommandDriver, LinuxShell, UBootDriver

    for cls in (UBootDriver, LinuxShell):
        assert issubclass(cls, CommandDriver), cls
        assert inspect.signature(cls.run).return_annotation == "tuple[int, str]", cls
        assert inspect.signature(cls.check).return_annotation == "str", cls
