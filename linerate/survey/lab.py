"""A unit's lab file: the facts of one board (not of its model), as surveyed.

Model facts stay in ``board/<name>/board.yml``; what can differ from one unit to the
next, or was never published, is measured on the unit by ``linerate survey`` and
kept here: its serial port, its bootloader (banner, hush, commands, environment
size), the NOR banks with every sector and its protection as ``flinfo`` reported
them, and the flash partitions its Linux reported. The flasher writes nothing a
lab file does not cover.

Where: ``--lab FILE``, else ``$LINERATE_LAB_DIR/<board>.yml``, else
``${XDG_CONFIG_HOME:-~/.config}/linerate/lab/<board>.yml``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from linerate.errors import LinerateError
from linerate.survey.envscan import EnvCopy
from linerate.survey.flinfo import Bank, Sector

#: Names of flash partitions that hold a bootloader, its environment or vendor data:
#: never a place for a firmware slot, whatever their flags say.
PROTECTED_NAME = re.compile(r"u-?boot|env|config|diag|boot ?loader|spl|bios|nvram", re.I)
LAB_VERSION = 1


class LabError(LinerateError):
    """A lab file is missing, unreadable or does not fit the board."""


@dataclass(frozen=True)
class MtdPartition:
    """A flash partition as the board's Linux reported it (/sys/class/mtd)."""

    device: str
    name: str
    offset: int
    size: int
    writable: bool

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def firmware_area(self) -> bool:
        """Writable and not a bootloader, environment or vendor data partition."""
        return self.writable and not PROTECTED_NAME.search(self.name)


@dataclass
class Lab:
    board: str
    unit: str
    surveyed: str
    port: str
    banner: str
    hush: bool
    #: U-Boot commands this unit has (from ``help``), sorted.
    commands: tuple[str, ...]
    #: ``nand`` sub-commands that matter to the flasher: {"write.trimffs": True, ...}.
    nand_features: dict[str, bool]
    #: Environment capacity (bytes, header included) and whether it is redundant;
    #: None when U-Boot did not say.
    env_size: int | None
    env_redundant: bool | None
    #: ethaddr, eth1addr, ... as set on this unit.
    macs: dict[str, str]
    bootcmd: str | None
    bdinfo: dict[str, str]
    nor_banks: tuple[Bank, ...]
    #: Flash partitions from this unit's Linux (None: no Linux was reached).
    linux_mtd: tuple[MtdPartition, ...] | None = None
    linux_cmdline: str | None = None
    #: The stored copies of the environment the survey located by their CRC
    #: (linerate.survey.envscan); empty when none was found or not searched.
    env_copies: tuple[EnvCopy, ...] = ()
    #: fw_env.config for the appliance's kernel (linerate.survey.fwenv), or None.
    fw_env_config: str | None = None
    notes: list[str] = field(default_factory=list)
    path: Path | None = None

    # -- what the flasher asks --------------------------------------------------

    def has_command(self, name: str) -> bool:
        return name in self.commands

    def bank_at(self, address: int) -> Bank | None:
        for bank in self.nor_banks:
            if bank.base <= address < bank.end:
                return bank
        return None

    def firmware_areas(self) -> list[MtdPartition]:
        return [p for p in self.linux_mtd or () if p.firmware_area]

    # -- files --------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": LAB_VERSION,
            "board": self.board,
            "unit": self.unit,
            "surveyed": self.surveyed,
            "port": self.port,
            "uboot": {
                "banner": self.banner,
                "hush": self.hush,
                "commands": list(self.commands),
                "nand_features": dict(self.nand_features),
                "env_size": _hex(self.env_size) if self.env_size is not None else None,
                "env_redundant": self.env_redundant,
                "env_copies": [
                    {
                        "address": _hex(c.address),
                        "size": _hex(c.size),
                        "redundant": c.redundant,
                        "crc": _hex(c.crc),
                        "flag": c.flag,
                    }
                    for c in self.env_copies
                ],
                "fw_env_config": self.fw_env_config,
                "bootcmd": self.bootcmd,
                "macs": dict(self.macs),
                "bdinfo": dict(self.bdinfo),
            },
            "nor": [_bank_data(b) for b in self.nor_banks],
            "linux": None
            if self.linux_mtd is None
            else {
                "cmdline": self.linux_cmdline,
                "mtd": [
                    {
                        "device": p.device,
                        "name": p.name,
                        "offset": _hex(p.offset),
                        "size": _hex(p.size),
                        "writable": p.writable,
                    }
                    for p in self.linux_mtd
                ],
            },
            "notes": list(self.notes),
        }
        return data

    def save(self, path: Path) -> Path:
        """Write the lab file (and, when the environment was located, its fw_env.config
        beside it: ``<board>.fw_env.config``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.fw_env_config is not None:
            fw_env = fw_env_path(path)
            tmp_env = fw_env.with_name(fw_env.name + ".tmp")
            tmp_env.write_text(self.fw_env_config)
            tmp_env.replace(fw_env)
        header = (
            f"# Lab file of one {self.board} unit, written by `linerate survey` on "
            f"{self.surveyed}.\n# Measured on the unit: rerun the survey rather than editing.\n"
        )
        tmp = path.with_name(path.name + ".tmp")
        text = yaml.dump(self.to_data(), Dumper=_Dumper, sort_keys=False, width=100)
        tmp.write_text(header + text)
        tmp.replace(path)
        self.path = path
        return path

    @classmethod
    def from_data(cls, data: dict[str, Any], path: Path | None = None) -> Lab:
        where = str(path or "lab data")
        try:
            if data.get("version") != LAB_VERSION:
                raise LabError(
                    f"{where}: lab version {data.get('version')!r}, this linerate reads "
                    f"{LAB_VERSION}: rerun linerate survey"
                )
            ub = data["uboot"]
            linux = data.get("linux")
            return cls(
                board=str(data["board"]),
                unit=str(data["unit"]),
                surveyed=str(data["surveyed"]),
                port=str(data["port"]),
                banner=str(ub["banner"]),
                hush=bool(ub["hush"]),
                commands=tuple(ub["commands"]),
                nand_features={str(k): bool(v) for k, v in ub["nand_features"].items()},
                env_size=_int(ub["env_size"]),
                env_redundant=ub["env_redundant"],
                env_copies=tuple(
                    EnvCopy(
                        address=_int(c["address"]) or 0,
                        size=_int(c["size"]) or 0,
                        redundant=bool(c["redundant"]),
                        crc=_int(c["crc"]) or 0,
                        flag=c.get("flag"),
                    )
                    for c in ub.get("env_copies") or ()
                ),
                fw_env_config=ub.get("fw_env_config"),
                macs={str(k): str(v) for k, v in ub["macs"].items()},
                bootcmd=ub.get("bootcmd"),
                bdinfo={str(k): str(v) for k, v in ub["bdinfo"].items()},
                nor_banks=tuple(_bank_from(b) for b in data["nor"]),
                linux_mtd=None
                if linux is None
                else tuple(
                    MtdPartition(
                        device=str(p["device"]),
                        name=str(p["name"]),
                        offset=_int(p["offset"]) or 0,
                        size=_int(p["size"]) or 0,
                        writable=bool(p["writable"]),
                    )
                    for p in linux["mtd"]
                ),
                linux_cmdline=None if linux is None else linux.get("cmdline"),
                notes=list(data.get("notes") or []),
                path=path,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LabError(f"{where}: not a lab file ({exc!r}): rerun linerate survey") from exc


class _Dumper(yaml.SafeDumper):
    """Safe YAML, multi-line strings (the fw_env.config) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def lab_dir() -> Path:
    env = os.environ.get("LINERATE_LAB_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "linerate" / "lab"


def fw_env_path(lab_path: Path) -> Path:
    """Where the survey writes the unit's fw_env.config: beside its lab file."""
    return lab_path.with_suffix(".fw_env.config")


def default_lab_path(board: str) -> Path:
    return lab_dir() / f"{board}.yml"


def load_lab(path: Path) -> Lab:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise LabError(f"cannot read the lab file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise LabError(f"{path}: not YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise LabError(f"{path}: not a lab file")
    return Lab.from_data(data, path)


def _hex(n: int) -> str:
    return f"0x{n:08x}"


def _int(v: object) -> int | None:
    if v is None:
        return None
    if isinstance(v, int):
        return v
    return int(str(v), 0)


def _bank_data(bank: Bank) -> dict[str, Any]:
    """A bank with its sectors as runs of equal size and protection (compact, exact)."""
    runs: list[dict[str, Any]] = []
    for s in bank.sectors:
        last = runs[-1] if runs else None
        if (
            last is not None
            and last["_size"] == s.size
            and last["read_only"] == s.read_only
            and last["_next"] == s.start
        ):
            last["count"] += 1
            last["_next"] = s.end
            continue
        runs.append(
            {
                "start": _hex(s.start),
                "sector_size": _hex(s.size),
                "count": 1,
                "read_only": s.read_only,
                "_size": s.size,
                "_next": s.end,
            }
        )
    return {
        "bank": bank.number,
        "base": _hex(bank.base),
        "size": _hex(bank.size),
        "description": bank.description,
        "sectors": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
    }


def _bank_from(data: dict[str, Any]) -> Bank:
    sectors: list[Sector] = []
    for run in data["sectors"]:
        start, size = _int(run["start"]) or 0, _int(run["sector_size"]) or 0
        for i in range(int(run["count"])):
            sectors.append(Sector(start + i * size, size, bool(run["read_only"])))
    return Bank(
        number=int(data["bank"]),
        base=_int(data["base"]) or 0,
        size=_int(data["size"]) or 0,
        sectors=tuple(sectors),
        description=str(data.get("description", "")),
    )
