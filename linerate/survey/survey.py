"""Ask a board's bootloader (and, optionally, its running Linux) what it is.

Every probe is a command the bootloader of any era has (``version``, ``help``,
``flinfo``, ``printenv``, ``bdinfo``); nothing is written, erased or saved. Hush is
probed (an ``if`` that echoes a token), never assumed; ``Unknown command`` is the
expected answer of a bootloader without hush or without ``nand``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from linerate.board.profile import Profile
from linerate.board.strategy import BoardStrategy
from linerate.console.patterns import UBOOT_ERROR, UBOOT_SIGNON, UNKNOWN_COMMAND
from linerate.console.uboot import parse_printenv
from linerate.errors import LinerateError
from linerate.survey import envscan, fwenv
from linerate.survey.flinfo import Bank, parse_flinfo
from linerate.survey.lab import Lab, LabError, MtdPartition

_ENV_SIZE_RE = re.compile(r"Environment size:\s*(\d+)/(\d+) bytes")
_BANNER_RE = re.compile(r"U-Boot \d{4}\.\d\d[^\r\n]*")
_HELP_RE = re.compile(r"^([a-zA-Z][\w.]*)\s*-\s", re.M)
_MAC_VAR_RE = re.compile(r"^eth\d*addr$")


def env_capacity(used_line: str) -> tuple[int | None, bool | None]:
    """(environment size with its header, redundant?) from ``Environment size: U/C bytes``.

    C is the size less the header: 4 bytes (CRC) for one copy, 5 (CRC + flag byte) for
    redundant copies; environment sizes are powers of two, which tells the two apart."""
    m = _ENV_SIZE_RE.search(used_line)
    if not m:
        return None, None
    capacity = int(m.group(2))
    for header, redundant in ((4, False), (5, True)):
        size = capacity + header
        if size & (size - 1) == 0:
            return size, redundant
    return None, None


def parse_bdinfo(text: str) -> dict[str, str]:
    info: dict[str, str] = {}
    for line in text.replace("\r", "").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            key = re.sub(r"\s+", "_", name.strip())
            # DRAM banks repeat their keys: keep every one.
            while key in info:
                key += "'"
            info[key] = value.strip()
    return info


def parse_sysfs_mtd(text: str) -> list[MtdPartition]:
    """Lines ``mtdN|name|offset|size|flags`` (what the survey's shell loop prints)."""
    parts = []
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 5 or not fields[0].startswith("mtd"):
            continue
        device, name, offset, size, flags = fields
        try:
            writable = bool(int(flags, 0) & 0x400)  # MTD_WRITEABLE
            parts.append(MtdPartition(device, name, int(offset, 0), int(size, 0), writable))
        except ValueError:
            continue
    return parts


class Surveyor:
    def __init__(
        self,
        strategy: BoardStrategy,
        port_name: str,
        say: Callable[[str], None] = print,
    ) -> None:
        self.strategy = strategy
        self.profile: Profile = strategy.profile
        self.port_name = port_name
        self.say = say

    def _uboot(self, command: str, timeout: float = 30.0) -> str:
        ub = self.strategy.uboot
        with ub.port.allow(UNKNOWN_COMMAND, UBOOT_ERROR, UBOOT_SIGNON):
            return ub.send_command(command, timeout=timeout)

    def probe_hush(self) -> bool:
        token = secrets.token_hex(4)
        out = self._uboot(f"if true; then echo hush{token}; fi")
        return f"hush{token}" in out

    def survey(self, unit: str | None = None, linux: bool = False) -> Lab:
        how = self.strategy.to_uboot()
        self.say(f"survey: at U-Boot's prompt ({how})")
        version = self._uboot("version")
        banner_m = _BANNER_RE.search(version) or _BANNER_RE.search(self.strategy.uboot_log)
        banner = banner_m.group(0).strip() if banner_m else version.strip().splitlines()[0:1]
        banner = banner if isinstance(banner, str) else (banner[0] if banner else "unknown")
        self.say(f"survey: {banner}")
        hush = self.probe_hush()
        self.strategy.uboot.hush = hush
        self.say(f"survey: hush {'works' if hush else 'is off (plain command parser)'}")
        commands = tuple(sorted(set(_HELP_RE.findall(self._uboot("help", timeout=30.0)))))
        nand_features: dict[str, bool] = {}
        if "nand" in commands:
            nand_help = self._uboot("help nand")
            for feature in ("write.trimffs", "read.oob", "write.oob", "scrub", "erase.part"):
                nand_features[feature] = feature in nand_help
        flinfo_out = self._uboot("flinfo", timeout=60.0) if "flinfo" in commands else ""
        banks = tuple(parse_flinfo(flinfo_out))
        for bank in banks:
            ro = sum(s.read_only for s in bank.sectors)
            self.say(
                f"survey: NOR bank {bank.number} at {bank.base:#x}, {bank.size >> 20} MiB, "
                f"{len(bank.sectors)} sectors, {ro} read-only"
            )
        env_text = self._uboot("printenv", timeout=30.0)
        env = parse_printenv(env_text)
        env_size, redundant = env_capacity(env_text)
        macs = {k: v for k, v in sorted(env.items()) if _MAC_VAR_RE.match(k)}
        bdinfo = parse_bdinfo(self._uboot("bdinfo")) if "bdinfo" in commands else {}
        copies = self.locate_env(banks, env_size, redundant, commands)
        fw_env = self.fw_env_config(copies, banks, env, banner)
        lab = Lab(
            board=self.profile.name,
            unit=unit or macs.get("ethaddr", "unit").lower(),
            surveyed=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            port=self.port_name,
            banner=banner,
            hush=hush,
            commands=commands,
            nand_features=nand_features,
            env_size=env_size,
            env_redundant=redundant,
            macs=macs,
            bootcmd=env.get("bootcmd"),
            bdinfo=bdinfo,
            nor_banks=banks,
            env_copies=tuple(copies),
            fw_env_config=fw_env,
        )
        if linux:
            self.survey_linux(lab)
        return lab

    def locate_env(
        self,
        banks: tuple[Bank, ...],
        env_size: int | None,
        redundant: bool | None,
        commands: tuple[str, ...],
    ) -> list[envscan.EnvCopy]:
        """The environment's copies in NOR, by their CRC (linerate.survey.envscan)."""
        if not banks or env_size is None or not {"md", "crc32"} <= set(commands):
            self.say("survey: environment not searched (no NOR, no size line or no md/crc32)")
            return []
        hints: list[int] = []
        nor = self.profile.flash.nor
        if nor is not None and nor.env_offset is not None:
            base = next((b.base for b in banks if b.base == nor.base), banks[0].base)
            hints = [base + nor.env_offset, base + nor.env_offset + env_size]
        copies = envscan.scan(
            lambda cmd: self._uboot(cmd, timeout=60.0), banks, env_size, redundant, hints
        )
        if not copies:
            self.say(
                "survey: no stored environment found by its CRC near the ends of the banks "
                "(never saved? run saveenv once at U-Boot's prompt and survey again)"
            )
        for c in copies:
            flag = "" if c.flag is None else f", flag {c.flag}"
            self.say(f"survey: environment copy at {c.address:#x}, {c.size:#x} bytes{flag}")
        if redundant and len(copies) == 1:
            self.say(
                "survey: only one copy of the redundant environment holds a valid CRC "
                "(the other is written by the next saveenv): survey again after one"
            )
        return copies

    def fw_env_config(
        self,
        copies: list[envscan.EnvCopy],
        banks: tuple[Bank, ...],
        env: dict[str, str],
        banner: str,
    ) -> str | None:
        """fw_env.config for the appliance's kernel, from its mtdparts= (the profile's
        linerate_bootargs, else the unit's environment)."""
        want = 2 if any(c.redundant for c in copies) else 1
        if not copies or len(copies) < want:
            return None
        mtdparts = fwenv.find_mtdparts(
            [self.profile.uboot.env.get("linerate_bootargs", ""), *env.values()]
        )
        if mtdparts is None:
            self.say("survey: no mtdparts= in the profile or the environment: no fw_env.config")
            return None
        try:
            return fwenv.render(
                copies, list(banks), mtdparts, f"{banner}, {datetime.now(UTC):%Y-%m-%d}"
            )
        except LinerateError as exc:
            self.say(f"survey: no fw_env.config: {exc}")
            return None

    def survey_linux(self, lab: Lab) -> None:
        """Boot the unit's own Linux from U-Boot and read its flash partitions."""
        self.say("survey: booting the board's Linux to read its flash partitions")
        self.strategy.boot("boot")
        shell = self.strategy.shell
        out = shell.check(
            "for d in /sys/class/mtd/mtd*; do case $d in *ro) continue;; esac; "
            '[ -f $d/offset ] || continue; echo "${d##*/}|$(cat $d/name)|$(cat $d/offset)|'
            '$(cat $d/size)|$(cat $d/flags)"; done'
        )
        parts = parse_sysfs_mtd(out)
        if not parts:
            proc = shell.run("cat /proc/mtd")[1]
            raise LabError(
                "the board's Linux shows no flash partitions with offsets in /sys/class/mtd "
                f"(/proc/mtd: {proc.strip() or 'empty'}): a kernel older than 4.x has no "
                "offset file; give the partitions to the vendor kernel with mtdparts= and rerun"
            )
        lab.linux_mtd = tuple(parts)
        lab.linux_cmdline = shell.check("cat /proc/cmdline").strip()
        for p in parts:
            kind = "firmware area" if p.firmware_area else "protected"
            self.say(f"survey: {p.device} {p.name!r} {p.offset:#x}+{p.size:#x} ({kind})")
        self.strategy.to_uboot()
