"""Board profiles: ``board/<name>/board.yml`` loaded into typed, validated dataclasses.

Validation is hand-written so every error names the file, the key (as a dotted
path such as ``flash.nor.partitions[2].size``) and what was expected. The
format is described in docs/boards.md; the three profiles in ``board/`` are the
examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from linerate import ROOT
from linerate.errors import LinerateError, UsageError

BOARD_DIR = ROOT / "board"
ROLES = ("management", "test")
POWER_METHODS = ("manual", "command", "qemu")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IFACE_RE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_IPV4_RE = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")


class ProfileError(LinerateError):
    """A board profile is missing, unreadable or invalid."""


class UnknownBoardError(ProfileError, UsageError):
    """No profile of that name (a usage error: ``--board`` names no board)."""


# -- the model ---------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    user: str
    password: str | None = None


@dataclass(frozen=True)
class Console:
    baud: int
    uboot_prompt: str
    autoboot_text: str
    stop_key: str
    shell_prompt: str
    login: Login | None = None
    #: U-Boot's longest command line (CONFIG_SYS_CBSIZE - 1).
    max_line: int = 255


@dataclass(frozen=True)
class UBoot:
    #: RAM address images are received at (TFTP, ymodem).
    load_address: int
    #: A second RAM buffer for reading flash back (NAND read-back).
    verify_address: int
    #: The A/B boot command the flasher installs with the slot variable.
    bootcmd: str
    #: Environment variable holding the active slot ("a" or "b").
    slot_variable: str = "bootslot"
    #: Whether U-Boot's shell is hush (``if``, ``$?``); old vendor builds may lack it.
    hush: bool = True
    #: Extra environment the boot needs, set with the first A/B flash (name -> value).
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Partition:
    name: str
    offset: int
    size: int
    read_only: bool = False
    #: "a" or "b" for a boot slot, else None.
    slot: str | None = None

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class Nor:
    base: int
    size: int
    erase_block: int
    partitions: tuple[Partition, ...]
    #: U-Boot environment inside the flash (offset, size), for the record and the checks.
    env_offset: int | None = None
    env_size: int | None = None
    #: False while the value is an assumption not yet checked on hardware.
    env_verified: bool = True
    #: Two copies (the second right after the first) with a flag byte each.
    env_redundant: bool = False

    def partition(self, name: str) -> Partition:
        for p in self.partitions:
            if p.name == name:
                return p
        raise ProfileError(f"no NOR partition {name!r} (have {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.partitions]

    def slot(self, which: str) -> Partition:
        for p in self.partitions:
            if p.slot == which:
                return p
        raise ProfileError(f"no NOR partition is boot slot {which!r}")

    def address(self, part: Partition) -> int:
        return self.base + part.offset


@dataclass(frozen=True)
class Rescue:
    """How the flasher boots the rescue initramfs (linerate.flash.rescue) on this board
    to write the UBI partition from Linux."""

    #: The rescue kernel's command line (console, the NAND's partitions, rdinit=/init).
    bootargs: str
    #: Linux's name of the UBI partition (/proc/mtd).
    ubi_mtd: str
    #: U-Boot's boot command; @kernel@ and @initrd@ are the RAM addresses.
    boot: str = "bootm @kernel@ @initrd@"
    #: Kernel modules of the board's build the rescue shell needs (virtual boards).
    modules: tuple[str, ...] = ()
    #: Shell commands run first in the rescue shell (e.g. insmod of those modules).
    setup: tuple[str, ...] = ()
    #: Load address of a kernel uImage the flasher wraps itself (virtual boards).
    kernel_load: int | None = None


@dataclass(frozen=True)
class Nand:
    size: int
    erase_block: int
    page: int
    partitions: tuple[Partition, ...]
    rescue: Rescue | None = None

    def partition(self, name: str) -> Partition:
        for p in self.partitions:
            if p.name == name:
                return p
        names = ", ".join(p.name for p in self.partitions)
        raise ProfileError(f"no NAND partition {name!r} (have {names})")


@dataclass(frozen=True)
class Ssd:
    device: str
    #: How the image gets there: "linux" (from the running appliance; the only one).
    method: str = "linux"


@dataclass(frozen=True)
class Flash:
    nor: Nor | None = None
    nand: Nand | None = None
    ssd: Ssd | None = None


@dataclass(frozen=True)
class Port:
    name: str
    role: str
    #: U-Boot variable holding this port's MAC (ethaddr, eth1addr, ...).
    mac_env: str
    #: The board's IPv4 address on this port (CIDR) for a test port.
    address: str | None = None
    #: HTTP port SLHTTPD serves on this port.
    http_port: int = 80


@dataclass(frozen=True)
class Tftp:
    """How U-Boot reaches the flasher's TFTP server."""

    #: Address the server binds on this host.
    bind: str
    #: UDP port it binds (U-Boot without CONFIG_TFTP_PORT always asks port 69).
    port: int
    #: ``serverip`` U-Boot is given (the host as the board sees it).
    serverip: str
    #: ``ipaddr`` for the board, ``netmask``, and ``gatewayip`` if the server is routed.
    ipaddr: str
    netmask: str = "255.255.255.0"
    gatewayip: str | None = None
    #: Port the Linux-side client (busybox tftp) uses, and the address it uses.
    linux_serverip: str | None = None
    linux_port: int | None = None
    #: Address the server binds for the Linux-side client, if not ``bind`` (QEMU's user
    #: network maps the guest's 10.0.2.2 to 127.0.0.1 only).
    linux_bind: str | None = None


@dataclass(frozen=True)
class Power:
    method: str
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    kas_machine: str
    console: Console
    uboot: UBoot
    flash: Flash
    ports: tuple[Port, ...]
    tftp: Tftp
    power: Power
    #: Image paths relative to the project root for ``--from-build`` (medium -> path).
    images: dict[str, str]
    path: Path

    @property
    def test_ports(self) -> list[Port]:
        return [p for p in self.ports if p.role == "test"]

    @property
    def virtual(self) -> bool:
        return self.power.method == "qemu"


# -- reading ---------------------------------------------------------------------


class _Reader:
    """Typed access to a mapping with errors that name the file and the key."""

    def __init__(self, path: Path, data: Any, where: str = "") -> None:
        self.path = path
        self.where = where
        if not isinstance(data, dict):
            self.fail(f"expected a mapping (key: value lines), got {_kind(data)}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def fail(self, message: str, key: str | None = None) -> None:
        at = key if key is not None else (self.where or "(top level)")
        raise ProfileError(f"{self.path}: {at}: {message}")

    def _get(self, name: str, required: bool) -> Any:
        self.used.add(name)
        if name not in self.data or self.data[name] is None:
            if required:
                self.fail("missing: this key is required", self.key(name))
            return None
        return self.data[name]

    def str_(self, name: str, default: str | None = None, required: bool = True) -> str:
        value = self._get(name, required and default is None)
        if value is None:
            return default if default is not None else ""
        if not isinstance(value, str):
            self.fail(f"expected a string, got {_kind(value)} {value!r}", self.key(name))
        return value

    def opt_str(self, name: str) -> str | None:
        value = self._get(name, False)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f"expected a string, got {_kind(value)} {value!r}", self.key(name))
        return value

    def int_(self, name: str, default: int | None = None, minimum: int = 0) -> int:
        value = self._get(name, default is None)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str):
                try:
                    value = int(value, 0)
                except ValueError:
                    self.fail(f"expected an integer (e.g. 0x100000), got {value!r}", self.key(name))
            else:
                self.fail(f"expected an integer, got {_kind(value)} {value!r}", self.key(name))
        if value < minimum:
            self.fail(f"expected an integer >= {minimum}, got {value:#x}", self.key(name))
        return int(value)

    def opt_int(self, name: str) -> int | None:
        if self.data.get(name) is None:
            self.used.add(name)
            return None
        return self.int_(name)

    def bool_(self, name: str, default: bool) -> bool:
        value = self._get(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(f"expected true or false, got {value!r}", self.key(name))
        return bool(value)

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.str_(name, default)
        if value not in choices:
            self.fail(f"expected one of {', '.join(choices)}, got {value!r}", self.key(name))
        return value

    def sub(self, name: str, required: bool = True) -> _Reader | None:
        value = self._get(name, required)
        if value is None:
            return None
        return _Reader(self.path, value, self.key(name))

    def list_(self, name: str, required: bool = True) -> list[Any]:
        value = self._get(name, required)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"expected a list, got {_kind(value)}", self.key(name))
        return value

    def str_map(self, name: str) -> dict[str, str]:
        value = self._get(name, False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(f"expected a mapping, got {_kind(value)}", self.key(name))
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, str | int) or isinstance(v, bool):
                self.fail(f"expected name: string entries, got {k!r}: {v!r}", self.key(name))
            out[k] = str(v)
        return out

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used))
            self.fail(
                f"unknown key {unknown[0]!r} (known here: {known}): a typo?",
                self.key(unknown[0]),
            )


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _ipv4(r: _Reader, name: str, value: str | None, cidr: bool = False) -> None:
    if value is None:
        return
    addr, _, prefix = value.partition("/")
    m = _IPV4_RE.fullmatch(addr)
    ok = bool(m) and all(int(g) < 256 for g in m.groups()) if m else False
    if cidr:
        ok = ok and prefix.isdigit() and 0 < int(prefix) <= 32
    elif prefix:
        ok = False
    if not ok:
        want = "an IPv4 address with a prefix (10.1.0.2/24)" if cidr else "an IPv4 address"
        r.fail(f"expected {want}, got {value!r}", r.key(name))


def _console(r: _Reader) -> Console:
    login = None
    lr = r.sub("login", required=False)
    if lr is not None:
        login = Login(user=lr.str_("user"), password=lr.opt_str("password"))
        lr.done()
    c = Console(
        baud=r.int_("baud", minimum=1200),
        uboot_prompt=r.str_("uboot_prompt"),
        autoboot_text=r.str_("autoboot_text"),
        stop_key=r.str_("stop_key"),
        shell_prompt=r.str_("shell_prompt"),
        login=login,
        max_line=r.int_("max_line", default=255, minimum=64),
    )
    if not c.stop_key:
        r.fail("must not be empty (the key or string that stops autoboot)", r.key("stop_key"))
    r.done()
    return c


def _uboot(r: _Reader) -> UBoot:
    u = UBoot(
        load_address=r.int_("load_address"),
        verify_address=r.int_("verify_address"),
        bootcmd=r.str_("bootcmd"),
        slot_variable=r.str_("slot_variable", "bootslot"),
        hush=r.bool_("hush", True),
        env=r.str_map("env"),
    )
    if not _ENV_RE.fullmatch(u.slot_variable):
        r.fail(f"not a valid variable name: {u.slot_variable!r}", r.key("slot_variable"))
    r.done()
    return u


def _partitions(r: _Reader, name: str, total: int, block: int) -> tuple[Partition, ...]:
    parts: list[Partition] = []
    for i, item in enumerate(r.list_(name)):
        pr = _Reader(r.path, item, f"{r.key(name)}[{i}]")
        pname = pr.str_("name")
        if not _NAME_RE.fullmatch(pname):
            pr.fail(f"expected a lower-case name (a-z, 0-9, -), got {pname!r}", pr.key("name"))
        slot = pr.opt_str("slot")
        if slot is not None and slot not in ("a", "b"):
            pr.fail(f"expected a or b, got {slot!r}", pr.key("slot"))
        offset = pr.int_("offset")
        size_value = pr.data.get("size")
        if size_value == "rest":
            pr.used.add("size")
            size = total - offset
        else:
            size = pr.int_("size", minimum=1)
        part = Partition(pname, offset, size, pr.bool_("read_only", False), slot)
        pr.done()
        for key, value in (("offset", part.offset), ("size", part.size)):
            if value % block:
                pr.fail(
                    f"{value:#x} is not a multiple of the erase block ({block:#x})", pr.key(key)
                )
        if part.end > total:
            pr.fail(
                f"partition ends at {part.end:#x}, beyond the device size {total:#x}",
                pr.key("size"),
            )
        for other in parts:
            if other.name == part.name:
                pr.fail(f"partition name {part.name!r} used twice", pr.key("name"))
            if part.offset < other.end and other.offset < part.end:
                pr.fail(
                    f"{part.name} ({part.offset:#x}-{part.end:#x}) overlaps {other.name} "
                    f"({other.offset:#x}-{other.end:#x})",
                    pr.key("offset"),
                )
        if part.slot is not None and part.read_only:
            pr.fail("a boot slot cannot be read-only", pr.key("read_only"))
        parts.append(part)
    if not parts:
        r.fail("expected at least one partition", r.key(name))
    slots = [p.slot for p in parts if p.slot]
    if sorted(slots) not in ([], ["a", "b"]):
        r.fail(f"expected no boot slots or exactly slots a and b, got {slots}", r.key(name))
    return tuple(parts)


def _nor(r: _Reader) -> Nor:
    base = r.int_("base")
    size = r.int_("size", minimum=1)
    block = r.int_("erase_block", minimum=1)
    parts = _partitions(r, "partitions", size, block)
    env_offset = r.opt_int("env_offset")
    env_size = r.opt_int("env_size")
    redundant = r.bool_("env_redundant", False)
    nor = Nor(
        base, size, block, parts, env_offset, env_size, r.bool_("env_verified", True), redundant
    )
    if (env_offset is None) != (env_size is None):
        r.fail("give both env_offset and env_size, or neither", r.key("env_size"))
    if env_offset is not None and env_size is not None:
        span = env_size * (2 if redundant else 1)
        inside = [p for p in parts if p.offset <= env_offset and env_offset + span <= p.end]
        if not inside or not inside[0].read_only:
            r.fail(
                "the U-Boot environment must lie inside a read_only partition (only saveenv "
                "writes it)",
                r.key("env_offset"),
            )
    r.done()
    return nor


def _nand(r: _Reader) -> Nand:
    size = r.int_("size", minimum=1)
    block = r.int_("erase_block", minimum=1)
    page = r.int_("page", minimum=1)
    if block % page:
        r.fail(f"erase block {block:#x} is not a multiple of the page {page:#x}", r.key("page"))
    rescue = None
    rr = r.sub("rescue", False)
    if rr is not None:
        rescue = Rescue(
            bootargs=rr.str_("bootargs"),
            ubi_mtd=rr.str_("ubi_mtd"),
            boot=rr.str_("boot", "bootm @kernel@ @initrd@"),
            modules=tuple(str(m) for m in rr.list_("modules", required=False)),
            setup=tuple(str(c) for c in rr.list_("setup", required=False)),
            kernel_load=rr.opt_int("kernel_load"),
        )
        if "@kernel@" not in rescue.boot or "@initrd@" not in rescue.boot:
            rr.fail("the boot command needs @kernel@ and @initrd@", rr.key("boot"))
        rr.done()
    nand = Nand(size, block, page, _partitions(r, "partitions", size, block), rescue)
    r.done()
    return nand


def _flash(r: _Reader) -> Flash:
    nor_r, nand_r, ssd_r = r.sub("nor", False), r.sub("nand", False), r.sub("ssd", False)
    ssd = None
    if ssd_r is not None:
        ssd = Ssd(ssd_r.str_("device"), ssd_r.choice("method", ("linux",), "linux"))
        if not ssd.device.startswith("/dev/"):
            ssd_r.fail(
                f"expected a device path (/dev/sda), got {ssd.device!r}", ssd_r.key("device")
            )
        ssd_r.done()
    flash = Flash(
        nor=_nor(nor_r) if nor_r is not None else None,
        nand=_nand(nand_r) if nand_r is not None else None,
        ssd=ssd,
    )
    if flash.nor is None and flash.nand is None and flash.ssd is None:
        r.fail("expected at least one of nor, nand, ssd")
    r.done()
    return flash


def _ports(r: _Reader) -> tuple[Port, ...]:
    ports: list[Port] = []
    for i, item in enumerate(r.list_("ports")):
        pr = _Reader(r.path, item, f"{r.key('ports')}[{i}]")
        port = Port(
            name=pr.str_("name"),
            role=pr.choice("role", ROLES),
            mac_env=pr.str_("mac_env"),
            address=pr.opt_str("address"),
            http_port=pr.int_("http_port", default=80, minimum=1),
        )
        if not _IFACE_RE.fullmatch(port.name):
            pr.fail(f"expected an interface name (eth0), got {port.name!r}", pr.key("name"))
        if not _ENV_RE.fullmatch(port.mac_env):
            pr.fail(f"expected a U-Boot variable name, got {port.mac_env!r}", pr.key("mac_env"))
        _ipv4(pr, "address", port.address, cidr=True)
        if port.role == "test" and port.address is None:
            pr.fail("a test port needs its address (where SLHTTPD answers)", pr.key("address"))
        for other in ports:
            if other.name == port.name or other.mac_env == port.mac_env:
                pr.fail(f"port {port.name} / {port.mac_env} listed twice", pr.key("name"))
        pr.done()
        ports.append(port)
    if not any(p.role == "test" for p in ports):
        r.fail("expected at least one port with role: test", r.key("ports"))
    return tuple(ports)


def _network(r: _Reader) -> tuple[Port, ...]:
    ports = _ports(r)
    r.done()
    return ports


def _tftp(r: _Reader) -> Tftp:
    t = Tftp(
        bind=r.str_("bind"),
        port=r.int_("port", default=69, minimum=1),
        serverip=r.str_("serverip"),
        ipaddr=r.str_("ipaddr"),
        netmask=r.str_("netmask", "255.255.255.0"),
        gatewayip=r.opt_str("gatewayip"),
        linux_serverip=r.opt_str("linux_serverip"),
        linux_port=r.opt_int("linux_port"),
        linux_bind=r.opt_str("linux_bind"),
    )
    for key in (
        "bind",
        "serverip",
        "ipaddr",
        "netmask",
        "gatewayip",
        "linux_serverip",
        "linux_bind",
    ):
        _ipv4(r, key, getattr(t, key))
    r.done()
    return t


def _power(r: _Reader) -> Power:
    method = r.choice("method", POWER_METHODS, "manual")
    command = r.list_("command", required=method == "command")
    if not all(isinstance(c, str) for c in command):
        r.fail("expected a list of strings (argv of the power-cycle command)", r.key("command"))
    if method != "command" and command:
        r.fail("only with method: command", r.key("command"))
    r.done()
    return Power(method, tuple(command))


def parse_profile(data: Any, path: Path) -> Profile:
    r = _Reader(path, data)
    name = r.str_("name")
    if not _NAME_RE.fullmatch(name):
        r.fail(f"expected a lower-case name, got {name!r}", "name")
    if path.parent.name != name and path.name == "board.yml":
        r.fail(
            f"the profile in board/{path.parent.name}/ must be named {path.parent.name!r}", "name"
        )
    profile = Profile(
        name=name,
        description=r.str_("description"),
        kas_machine=r.str_("kas_machine"),
        console=_console(_must(r.sub("console"))),
        uboot=_uboot(_must(r.sub("uboot"))),
        flash=_flash(_must(r.sub("flash"))),
        ports=_network(_must(r.sub("network"))),
        tftp=_tftp(_must(r.sub("tftp"))),
        power=_power(_must(r.sub("power"))),
        images=r.str_map("images"),
        path=path,
    )
    for medium in profile.images:
        if medium not in ("nor", "nand-kernel", "nand-ubi", "ssd"):
            r.fail(f"unknown medium {medium!r} (nor, nand-kernel, nand-ubi, ssd)", "images")
    nor = profile.flash.nor
    slot_var = profile.uboot.slot_variable
    if (
        nor is not None
        and profile.uboot.hush
        and any(p.slot for p in nor.partitions)
        and slot_var not in (profile.uboot.bootcmd)
    ):
        r.fail(
            f"bootcmd does not use the slot variable {slot_var!r}: with boot slots a and b "
            "the flasher could not switch between them",
            "uboot.bootcmd",
        )
    macs = {p.mac_env for p in profile.ports}
    if "ethaddr" not in macs:
        r.fail("one port must use mac_env: ethaddr (U-Boot's first port)", "network.ports")
    r.done()
    return profile


def _must(reader: _Reader | None) -> _Reader:
    assert reader is not None  # required sub-mappings raise in _get
    return reader


def profile_path(name: str, board_dir: Path = BOARD_DIR) -> Path:
    return board_dir / name / "board.yml"


def available(board_dir: Path = BOARD_DIR) -> list[str]:
    return sorted(p.parent.name for p in board_dir.glob("*/board.yml"))


def load_profile(name_or_path: str | Path, board_dir: Path = BOARD_DIR) -> Profile:
    """Load ``board/<name>/board.yml`` (or a path to a YAML file) and validate it."""
    path = Path(name_or_path)
    if not (path.suffix in (".yml", ".yaml") or "/" in str(name_or_path)):
        path = profile_path(str(name_or_path), board_dir)
    if not path.is_file():
        have = ", ".join(available(board_dir)) or "none"
        raise UnknownBoardError(f"no board profile {path} (available boards: {have})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    return parse_profile(data, path)
