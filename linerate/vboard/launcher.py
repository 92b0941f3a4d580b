"""Start and stop the virtual board: QEMU virt + Debian's U-Boot + pflash + e1000 NICs.

``VirtualBoard`` is a context manager: it starts QEMU paused (so nothing the
board prints is lost before a console is attached), gives the console pty, the
forwarded TCP ports and the raw-frame link, resumes, and always stops QEMU on
exit (QMP ``quit``, then SIGTERM, then SIGKILL; and QEMU dies with its parent
through ``PR_SET_PDEATHSIG``: no orphan QEMU even if Python is killed).

With ``tap=True`` the test port (NIC1) is cabled to a tap device in a network namespace
of its own instead of the raw-frame link (:mod:`linerate.vboard.tap`); the namespace is
deleted when the board stops.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.vboard.images import BoardImages
from linerate.vboard.qmp import QMP, QMPError
from linerate.vboard.tap import TapCable, create_cable

UBOOT_BIN = Path("/usr/lib/u-boot/qemu_arm/u-boot.bin")
#: $LINERATE_QEMU: another qemu-system-arm (e.g. one unpacked from its .deb), else PATH's.
QEMU = os.environ.get("LINERATE_QEMU") or "qemu-system-arm"
#: QEMU's NIC MACs: deliberately not the ones in U-Boot's environment.
NIC0_MAC = "52:54:00:12:34:56"
NIC1_MAC = "52:54:00:12:34:57"
#: The test port's NIC models (``--nic``) -> QEMU device. NIC0, the management port, is
#: always an e1000: QEMU's U-Boot takes the first NIC for TFTP and knows e1000.
NIC_MODELS = {
    "e1000": "e1000",
    "e1000e": "e1000e",
    "igb": "igb",
    "virtio": "virtio-net-pci",
}
GUEST_ADDR = "10.0.2.15"
FRAMES_GUEST_ADDR = "10.0.3.15"
_PTY_RE = re.compile(r"char device redirected to (/dev/pts/\d+) \(label con0\)")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: QEMU gets SIGKILL when we die.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass(frozen=True)
class FrameLink:
    """The second NIC's wire: QEMU's ``-netdev dgram`` carries each Ethernet frame as
    one UDP datagram on loopback. Send a frame to ``into_guest``; frames the guest sends
    arrive at ``from_guest``."""

    into_guest: tuple[str, int]
    from_guest: tuple[str, int]

    def open_socket(self) -> socket.socket:
        """A UDP socket bound where the guest's frames arrive, to send and receive frames."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(self.from_guest)
        return s


def qemu_version(qemu: str = QEMU) -> tuple[int, int]:
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=10)
    except FileNotFoundError as exc:
        raise LinerateError(
            f"{qemu} not found: run scripts/apt-backports.sh qemu-system-arm as root "
            "(QEMU 10 from bookworm-backports)"
        ) from exc
    m = re.search(r"version (\d+)\.(\d+)", out.stdout)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


class VirtualBoard:
    """One running virtual board."""

    def __init__(
        self,
        images: BoardImages,
        run_dir: Path | None = None,
        http_port: int | None = None,
        guest_ports: tuple[int, ...] = (80,),
        direct_kernel: bool = False,
        frame_link: bool = True,
        memory_mb: int = 512,
        qemu: str = QEMU,
        tap: bool = False,
        nic: str = "e1000",
        icount: bool = False,
    ) -> None:
        if nic not in NIC_MODELS:
            raise LinerateError(f"unknown NIC model {nic!r}: one of {', '.join(NIC_MODELS)}")
        self.nic = nic
        #: ``-icount shift=0``: the guest's clock counts its instructions (1 ns each), so
        #: the guest measures its own work as a 1 GHz single-issue CPU would, without the
        #: time QEMU spends emulating devices or the host takes the vCPU thread away
        #: (bench/ndiv_fairness.py --icount)
        self.icount = icount
        self.images = images
        self.direct_kernel = direct_kernel
        self.memory_mb = memory_mb
        self.qemu = qemu
        self._own_run_dir = run_dir is None
        if run_dir is None:
            base = ROOT / "build" / "vboard"
            base.mkdir(parents=True, exist_ok=True)
            _prune_stale_runs(base)
            run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=base))
        self.run_dir = run_dir
        #: guest TCP port -> host port on 127.0.0.1
        self.forwards: dict[int, int] = {}
        for i, gport in enumerate(guest_ports):
            self.forwards[gport] = http_port if (i == 0 and http_port) else free_port()
        #: ``tap``: the test port goes to a tap in a namespace (made at start), not the frame link.
        self.tap = tap
        self.cable: TapCable | None = None
        self.frames: FrameLink | None = None
        if frame_link and not tap:
            self.frames = FrameLink(
                ("127.0.0.1", free_port(socket.SOCK_DGRAM)),
                ("127.0.0.1", free_port(socket.SOCK_DGRAM)),
            )
        self.pty: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._qmp: QMP | None = None
        self.started_at = 0.0

    # -- paths -----------------------------------------------------------------------

    @property
    def console_link(self) -> Path:
        """A stable symlink to the console pty (QEMU 10 creates it)."""
        return self.run_dir / "console"

    @property
    def pflash(self) -> Path:
        return self.run_dir / "pflash1.img"

    @property
    def log(self) -> Path:
        return self.run_dir / "qemu.log"

    @property
    def http_port(self) -> int:
        return self.forwards[next(iter(self.forwards))]

    # -- command line ----------------------------------------------------------------

    def hostfwd(self) -> str:
        """QEMU user networking's forwards of the guest's HTTP ports to this host."""
        return ",".join(
            f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for guest, host in self.forwards.items()
        )

    def control_args(self) -> list[str]:
        """What every virtual board's QEMU gets: no display or monitor, the console on a
        pty (with its stable link), QMP and the pid file in the run directory."""
        return [
            *("-display", "none", "-monitor", "none"),
            *("-chardev", f"pty,id=con0,path={self.console_link}", "-serial", "chardev:con0"),
            *("-qmp", f"unix:{self.run_dir / 'qmp.sock'},server=on,wait=off"),
            *("-pidfile", str(self.run_dir / "qemu.pid")),
        ]

    def test_port_netdev(self, netdev_id: str) -> str:
        """NIC1's ``-netdev``: the tap cable (``tap=True``), else the raw-frame link."""
        if self.cable is not None:
            return self.cable.netdev(netdev_id)
        if self.frames is None:
            raise LinerateError("this board has no test-port link (frame_link=False)")
        (lh, lp), (rh, rp) = self.frames.into_guest, self.frames.from_guest
        return (
            f"dgram,id={netdev_id},local.type=inet,local.host={lh},local.port={lp},"
            f"remote.type=inet,remote.host={rh},remote.port={rp}"
        )

    def command(self) -> list[str]:
        hostfwd = self.hostfwd()
        args = [
            self.qemu,
            "-M",
            "virt,highmem=off",
            "-cpu",
            "cortex-a15",
            "-m",
            str(self.memory_mb),
            "-nic",
            "none",
            *self.control_args(),
            "-drive",
            f"if=pflash,unit=1,format=raw,file={self.pflash}",
            "-netdev",
            f"user,id=n0,net=10.0.2.0/24,{hostfwd}",
            "-device",
            f"e1000,netdev=n0,romfile=,mac={NIC0_MAC}",
            "-S",
        ]
        if self.icount:
            args += ["-icount", "shift=0"]
        if self.frames is not None or self.cable is not None:
            args += [
                "-netdev",
                self.test_port_netdev("n1"),
                "-device",
                f"{NIC_MODELS[self.nic]},netdev=n1,romfile=,mac={NIC1_MAC}",
            ]
        if self.direct_kernel:
            env = _env_dict(self.images.env_text)
            args += [
                "-kernel",
                str(self.images.kernel.zimage),
                "-initrd",
                str(self.images.initramfs),
                "-append",
                f"console=ttyAMA0,115200 ethaddr={env.get('ethaddr', '')} "
                f"eth1addr={env.get('eth1addr', '')} {env.get('linux_mtdparts', '')}",
            ]
        else:
            args += ["-bios", str(UBOOT_BIN)]
        return args

    # -- life cycle ----------------------------------------------------------------

    def prepare_flash(self) -> None:
        """Copy the flash images into the run directory (QEMU writes to them)."""
        shutil.copyfile(self.images.pflash, self.pflash)

    def check_firmware(self) -> None:
        if not self.direct_kernel and not UBOOT_BIN.is_file():
            raise LinerateError(f"{UBOOT_BIN} missing: apt-get install u-boot-qemu")

    def start(self, paused: bool = True, timeout: float = 20.0) -> VirtualBoard:
        """Start QEMU (paused until :meth:`resume` unless ``paused`` is False)."""
        if qemu_version(self.qemu) < (8, 0):
            raise LinerateError(
                f"{self.qemu} is older than 8.0: its CFI flash emulation corrupts buffered "
                "writes and saveenv; run scripts/apt-backports.sh qemu-system-arm as root"
            )
        self.check_firmware()
        for guest, host in self.forwards.items():
            if not port_free(host):
                raise LinerateError(
                    f"host port 127.0.0.1:{host} (for the guest's port {guest}) is in use: "
                    "stop what holds it or choose another (linerate vboard --http-port N)"
                )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.prepare_flash()
        self.console_link.unlink(missing_ok=True)
        if self.tap:
            self.cable = create_cable()
        fds = () if self.cable is None or self.cable.fd is None else (self.cable.fd,)
        try:
            with self.log.open("wb") as log:
                self.proc = subprocess.Popen(
                    self.command(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                    pass_fds=fds,
                )
        except BaseException:
            self.stop()
            raise
        if self.cable is not None:
            self.cable.release_fd()  # QEMU holds the tap now: it goes when QEMU exits
        deadline = time.monotonic() + timeout
        while self.pty is None:
            text = self.log.read_text(errors="replace")
            m = _PTY_RE.search(text)
            if m:
                self.pty = m.group(1)
                break
            if self.proc.poll() is not None:
                raise LinerateError(
                    f"QEMU exited with status {self.proc.returncode}: {text.strip()[-1500:]}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise LinerateError(f"QEMU gave no console pty in {timeout:.0f} s: {text[-1500:]}")
            time.sleep(0.02)
        self._qmp = QMP(self.run_dir / "qmp.sock")
        try:
            self._qmp.connect()
        except QMPError:
            self.stop()
            raise
        if not paused:
            self.resume()
        return self

    def resume(self) -> None:
        self._execute("cont")
        self.started_at = time.monotonic()

    def reset(self) -> None:
        """Press the reset button (the board restarts in U-Boot)."""
        self._execute("system_reset")

    def _execute(self, command: str) -> None:
        if self._qmp is None:
            raise LinerateError("the virtual board is not running")
        self._qmp.execute(command)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop QEMU: QMP quit, then SIGTERM, then SIGKILL. Safe to call twice."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            if self._qmp is not None:
                try:
                    self._qmp.execute("quit")
                except (QMPError, OSError):
                    pass
            try:
                proc.wait(timeout=timeout / 2)
            except subprocess.TimeoutExpired:
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        proc.wait(timeout=timeout / 4)
                        break
                    except subprocess.TimeoutExpired:
                        continue
        if self._qmp is not None:
            self._qmp.close()
            self._qmp = None
        if self.cable is not None:
            self.cable.close()
            self.cable = None

    def cleanup(self) -> None:
        """Stop and remove the run directory if we made it."""
        self.stop()
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> VirtualBoard:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


def _prune_stale_runs(base: Path, min_age: float = 600.0) -> None:
    """Remove run directories left by killed processes: their QEMU is gone."""
    now = time.time()
    for run in base.glob("run-*"):
        try:
            if now - run.stat().st_mtime < min_age:
                continue
            pid = int((run / "qemu.pid").read_text().strip() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid:
            try:
                os.kill(pid, 0)
                continue  # still running
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        shutil.rmtree(run, ignore_errors=True)


def _env_dict(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition("=")
        out[name] = value
    return out
