"""Progress that moves: while U-Boot erases, the bar follows its dots (one per sector)
and the elapsed time runs; off a terminal, one line per phase."""

from __future__ import annotations

import io
import os
import re
import time

from test_console_drivers import Peer

from linerate.console import SerialPort, UBootDriver
from linerate.flash.progress import Progress
from linerate.flash.ubootcmd import erase_watch


class SlowErase(Peer):
    """A U-Boot whose erase prints a dot per sector, 0.15 s apart."""

    def __init__(self, master: int, sectors: int) -> None:
        super().__init__(master, lambda _line: "", "=> ")
        self.sectors = sectors

    def run(self) -> None:
        import select

        while not self.stop:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            for ch in os.read(self.master, 1024).decode():
                if ch != "\r":
                    self.line += ch
                    os.write(self.master, ch.encode())
                    continue
                os.write(self.master, b"\r\n")
                if self.line.startswith("erase"):
                    for _ in range(self.sectors):
                        time.sleep(0.15)
                        os.write(self.master, b".")
                    os.write(self.master, f" done\r\nErased {self.sectors} sectors\r\n".encode())
                self.line = ""
                os.write(self.master, b"=> ")


def test_erase_draws_a_bar_from_uboot_dots():
    master, slave = os.openpty()
    peer = SlowErase(master, 8)
    port = SerialPort(os.ttyname(slave), timeout=5).open()
    peer.start()
    try:
        screen = io.StringIO()
        progress = Progress(stream=screen, tty=True)
        progress.phase("erase uimage-b")
        out = UBootDriver(port).send_command(
            "erase 0x5100000 +0x100000", timeout=10, watch=erase_watch(progress, 8)
        )
        progress.done()
    finally:
        peer.stop = True
        peer.join(2)
        port.close()
        os.close(master)
        os.close(slave)
    assert "Erased 8 sectors" in out
    shown = screen.getvalue()
    fractions = {float(m) for m in re.findall(r"\] +([\d.]+)%", shown)}
    assert len({f for f in fractions if 0 < f < 100}) >= 3, shown
    assert re.search(r"\d+/8", shown) and re.search(r"\d+\.\d s", shown)
    assert "erase uimage-b: done in" in shown


def test_off_a_terminal_one_line_per_phase():
    log = io.StringIO()
    progress = Progress(stream=log, tty=False)
    progress.phase("erase uimage-b")
    for i in range(5):
        progress.tick(i / 5)
    progress.done()
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and lines[0] == "flash: erase uimage-b ..."
    assert lines[1].startswith("flash: erase uimage-b: done in")
