"""SSD (the OpenBlocks AX3's /dev/sda): write the wic image from the running appliance.

The appliance boots from NOR (kernel + initramfs), so the SSD is not in use and
the running Linux can write it. Steps, each only if the one before succeeded:

1. the target is a block device and nothing on it is mounted (refused otherwise);
2. the image is fetched into RAM (``/tmp``, the initramfs) with busybox ``tftp``
   from the flasher's own TFTP server, and its SHA-256 there must equal the
   file's (nothing written to the SSD yet);
3. ``dd`` to the device with ``conv=fsync``, ``sync``;
4. the page cache is dropped and the device's first N bytes are read back and
   their SHA-256 compared again.

A compressed image (``.wic.gz``, as the build deploys it) is **streamed**
instead: ``tftp | gunzip | dd`` on the board, so an image larger than the
board's RAM works; nothing can be checked before writing, and step 4 compares
the device's bytes with the SHA-256 of the image's uncompressed content.

The boot environment is not changed: the board keeps booting NOR (see
docs/boards.md for booting from the SSD). An interruption during step 3 leaves
the SSD's content undefined but the board boots NOR as before; rerun to resume.
This strategy can only be tested on hardware with a disk; the virtual board
runs it against a file (``allow_file``) to exercise everything but the disk.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from linerate.board.profile import Profile
from linerate.console import ConsoleError, LinuxShell
from linerate.flash.errors import FlashError
from linerate.flash.progress import Progress
from linerate.flash.tftp import linux_tftp_server

_SHA_RE = re.compile(r"^([0-9a-f]{64})\b", re.MULTILINE)


@dataclass
class SsdResult:
    device: str
    size: int
    sha256: str
    timings: list[tuple[str, float]] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def content_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 and size of what the board must end up with: the file itself, or for a
    ``.gz`` its uncompressed content."""
    if path.suffix != ".gz":
        return file_sha256(path), path.stat().st_size
    h = hashlib.sha256()
    size = 0
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    except (OSError, EOFError) as exc:
        raise FlashError(f"{path} is not a whole gzip file: {exc}", state="nothing done") from exc
    return h.hexdigest(), size


def commands(device: str, name: str, server: str, port: int, size: int, tmp: str) -> dict[str, str]:
    """The shell commands of each step (kept together so they can be read and tested)."""
    dev, tmpq, nameq = shlex.quote(device), shlex.quote(tmp), shlex.quote(name)
    return {
        "fetch": f"tftp -g -b 1468 -r {nameq} -l {tmpq} {server} {port}",
        "size": f"wc -c < {tmpq}",
        "sum_ram": f"sha256sum {tmpq}",
        "write": f"dd if={tmpq} of={dev} bs=1M conv=fsync && sync",
        # Compressed images: straight from the network to the device.
        "stream": f"set -o pipefail; tftp -g -b 1468 -r {nameq} -l - {server} {port} | "
        f"gunzip -c | dd of={dev} bs=1M conv=fsync && sync",
        "drop_caches": "sync && echo 3 > /proc/sys/vm/drop_caches",
        "sum_dev": f"head -c {size} {dev} | sha256sum",
        "cleanup": f"rm -f {tmpq}",
    }


class SsdFlasher:
    def __init__(
        self,
        profile: Profile,
        shell: LinuxShell,
        progress: Progress,
        device: str | None = None,
        allow_file: bool = False,
        tmp: str = "/tmp/linerate-ssd.img",
    ) -> None:
        if profile.flash.ssd is None and device is None:
            raise FlashError(f"board {profile.name} has no SSD in its profile")
        self.profile = profile
        self.shell = shell
        self.progress = progress
        self.device = device or (profile.flash.ssd.device if profile.flash.ssd else "")
        self.allow_file = allow_file
        self.tmp = tmp

    def _check_target(self, size: int) -> None:
        dev = shlex.quote(self.device)
        kind = "-b" if not self.allow_file else "-e"
        status, _ = self.shell.run(f"test {kind} {dev}")
        if status != 0:
            raise FlashError(
                f"{self.device} is not a block device on the board (no SSD detected? check "
                "dmesg for the SATA link)",
                state="nothing written",
            )
        base = self.device.rsplit("/", 1)[-1]
        status, mounts = self.shell.run(f"grep -E '^/dev/{base}[0-9p]* ' /proc/mounts")
        if status == 0 and mounts.strip():
            raise FlashError(
                f"{self.device} is in use: {mounts.strip()}: writing it would corrupt the "
                "running system; boot from NOR (linerate flash --medium nor) and retry",
                state="nothing written",
            )
        status, out = self.shell.run("df -k /tmp | tail -1")
        fields = out.split()
        if status == 0 and len(fields) >= 4 and fields[3].isdigit():
            free = int(fields[3]) * 1024
            if free < size + (16 << 20):
                raise FlashError(
                    f"/tmp on the board has {free >> 20} MiB free, the image needs "
                    f"{size >> 20} MiB (+16): it cannot be checked in RAM before writing",
                    state="nothing written",
                )

    def flash(self, image: Path) -> SsdResult:
        if image.suffix == ".gz":
            return self.stream(image)
        size = image.stat().st_size
        digest = file_sha256(image)
        self._check_target(size)
        server, server_ip = linux_tftp_server(self.profile.tftp, image, self.progress)
        with server:
            cmd = commands(self.device, image.name, server_ip, server.port, size, self.tmp)
            writing = False
            try:
                self.progress.phase(f"tftp {image.name} to the board's RAM ({self.tmp})")
                self.shell.check(cmd["fetch"], timeout=120 + size / 200_000)
                got = int(self.shell.check(cmd["size"]).strip() or "-1")
                if got != size:
                    raise FlashError(f"the board received {got} bytes, the file has {size}")
                out = self.shell.check(cmd["sum_ram"], timeout=60 + size / 5e6)
                m = _SHA_RE.search(out)
                if not m or m.group(1) != digest:
                    raise FlashError(
                        f"SHA-256 mismatch in RAM ({m.group(1) if m else out!r} != {digest}): "
                        "the transfer was corrupted",
                        state="nothing written to the SSD",
                        resume="rerun linerate flash --medium ssd",
                    )
                self.progress.done(f"{size} bytes, sha256 matches")
                self.progress.phase(f"dd to {self.device}")
                writing = True
                self.shell.check(cmd["write"], timeout=120 + size / 5e6)
                self.progress.done()
                self.progress.phase(f"read back {self.device}")
                self.shell.run(cmd["drop_caches"])
                out = self.shell.check(cmd["sum_dev"], timeout=60 + size / 5e6)
                m = _SHA_RE.search(out)
                if not m or m.group(1) != digest:
                    raise FlashError(
                        f"read-back SHA-256 of {self.device} differs from the image",
                        state=f"{self.device} holds a damaged image; the board boots NOR",
                        resume="rerun linerate flash --medium ssd (if it repeats: the SSD)",
                    )
                self.progress.done("sha256 matches")
            except ConsoleError as exc:
                raise FlashError(
                    f"a step on the board failed: {exc}",
                    state=(
                        f"{self.device} may hold a partial image; the board boots NOR"
                        if writing
                        else "nothing written to the SSD"
                    ),
                    resume="rerun linerate flash --medium ssd",
                ) from exc
            finally:
                try:
                    self.shell.run(cmd["cleanup"])
                except ConsoleError:
                    pass  # the console is gone: the error above says why
        return SsdResult(self.device, size, digest, list(self.progress.timings))

    def stream(self, image: Path) -> SsdResult:
        """A ``.gz`` image: ``tftp | gunzip | dd`` on the board, then the read-back check."""
        digest, size = content_sha256(image)
        self._check_target(0)
        server, server_ip = linux_tftp_server(self.profile.tftp, image, self.progress)
        with server:
            cmd = commands(self.device, image.name, server_ip, server.port, size, self.tmp)
            try:
                self.progress.phase(f"stream {image.name} | gunzip | dd to {self.device}")
                self.shell.check(cmd["stream"], timeout=120 + size / 2e6)
                self.progress.done(f"{size} bytes uncompressed")
                self.progress.phase(f"read back {self.device}")
                self.shell.run(cmd["drop_caches"])
                out = self.shell.check(cmd["sum_dev"], timeout=60 + size / 5e6)
            except ConsoleError as exc:
                raise FlashError(
                    f"a step on the board failed: {exc}",
                    state=f"{self.device} may hold a partial image; the board boots NOR",
                    resume="rerun linerate flash --medium ssd",
                ) from exc
            m = _SHA_RE.search(out)
            if not m or m.group(1) != digest:
                raise FlashError(
                    f"read-back SHA-256 of {self.device} differs from the image's content "
                    "(the transfer or the write was corrupted)",
                    state=f"{self.device} holds a damaged image; the board boots NOR",
                    resume="rerun linerate flash --medium ssd (if it repeats: the SSD)",
                )
            self.progress.done("sha256 matches")
        return SsdResult(self.device, size, digest, list(self.progress.timings))
