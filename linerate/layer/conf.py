"""Read the layer's configuration files the way the offline checks need.

A small reader for BitBake assignments (``VAR = "value"``, ``?=``, ``??=``,
``+=``, ``:=``, backslash continuations, ``require``/``include`` of files in
the layer) and ``${VAR}`` expansion. It is not BitBake: overrides
(``VAR:machine``), Python expressions and appends are kept verbatim under
their full name and not applied. Enough for machine and distro settings and
for SRC_URI lists; the layer tier also parses the real thing with bitbake
when third-party layers are present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError

_ASSIGN = re.compile(
    r'^([A-Za-z0-9_:${}./+-]+)\s*(\?\?=|\?=|\+=|=\+|\.=|=\.|:=|=)\s*"(.*)"\s*$', re.S
)
_REQUIRE = re.compile(r"^(require|include)\s+(\S+)\s*$")
_MTDPART = re.compile(r"(-|[0-9a-fA-Fx]+[kKmMgG]?)(?:@([0-9a-fA-Fx]+[kKmMgG]?))?\(([^)]+)\)(ro)?")
_REF = re.compile(r"\$\{([A-Za-z0-9_:-]+)\}")


def logical_lines(text: str) -> list[str]:
    """Lines with continuations joined and comments dropped."""
    lines: list[str] = []
    buf = ""
    for raw in text.splitlines():
        if not buf and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        buf += raw
        if buf.strip():
            lines.append(buf.strip())
        buf = ""
    if buf.strip():
        lines.append(buf.strip())
    return lines


@dataclass
class ConfVars:
    """Variables from one file and what it requires, in parse order."""

    values: dict[str, str] = field(default_factory=dict)
    #: Every value assigned to a name, in order (SRC_URI += ... shows each).
    history: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    requires: list[str] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.expand(self.values.get(name, default))

    def expand(self, value: str, depth: int = 0) -> str:
        if depth > 20:
            raise LinerateError(f"recursive variable expansion in {value!r}")

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in self.values:
                return self.expand(self.values[name], depth + 1)
            return m.group(0)

        return _REF.sub(sub, value)


def read_conf(
    path: Path,
    search: list[Path] | None = None,
    into: ConfVars | None = None,
    follow: bool = True,
) -> ConfVars:
    """Parse ``path``; ``require``/``include`` are looked up in ``search``
    (default: the file's directory, then the layer root) and read too unless
    ``follow`` is false (then only listed in ``requires``)."""
    conf = into if into is not None else ConfVars()
    dirs = [path.parent, *(search if search is not None else [ROOT])]
    try:
        text = path.read_text()
    except OSError as exc:
        raise LinerateError(f"cannot read {path}: {exc}") from exc
    for line in logical_lines(text):
        req = _REQUIRE.match(line)
        if req:
            kind, name = req.groups()
            conf.requires.append(name)
            if not follow:
                continue
            found = next((d / name for d in dirs if (d / name).is_file()), None)
            if found is not None:
                read_conf(found, search, conf)
            elif kind == "require":
                # Files of other layers (oe-core's tune files): not ours to read.
                if not name.startswith("conf/machine/include/arm/"):
                    raise LinerateError(f"{path}: require {name}: not found in {dirs}")
            continue
        m = _ASSIGN.match(line)
        if not m:
            continue
        name, op, value = m.groups()
        conf.history.setdefault(name, []).append((op, value))
        old = conf.values.get(name)
        if op in ("?=", "??="):
            conf.values.setdefault(name, value)
        elif op in ("+=",):
            conf.values[name] = f"{old} {value}" if old else value
        elif op in ("=+",):
            conf.values[name] = f"{value} {old}" if old else value
        elif op == ".=":
            conf.values[name] = (old or "") + value
        elif op == "=.":
            conf.values[name] = value + (old or "")
        else:
            conf.values[name] = value
    return conf


def machine_conf(machine: str, root: Path = ROOT) -> ConfVars:
    path = root / "conf" / "machine" / f"{machine}.conf"
    if not path.is_file():
        raise LinerateError(f"no machine configuration {path}")
    return read_conf(path, [root])


def size_bytes(text: str) -> int:
    """A size as mtdparts and mkfs tools write it: 16m, 512KiB, 0x5f00000, 4096."""
    m = re.fullmatch(r"(0x[0-9a-fA-F]+|\d+)\s*([kKmMgG]?)(i?B)?", text.strip())
    if not m:
        raise LinerateError(f"not a size: {text!r}")
    number, unit, _ = m.groups()
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit.lower()]
    return int(number, 0) * scale


@dataclass(frozen=True)
class MtdPart:
    name: str
    offset: int
    size: int | None  # None: to the end of the device
    read_only: bool


def parse_mtdparts(value: str) -> tuple[str, list[MtdPart]]:
    """``mtdparts=<mtd-id>:<size>[@<offset>](<name>)[ro],...`` -> id and parts."""
    m = re.search(r"mtdparts=([^:\s]+):(\S+)", value)
    if not m:
        raise LinerateError(f"no mtdparts= in {value!r}")
    mtd_id, spec = m.groups()
    parts: list[MtdPart] = []
    offset = 0
    for item in spec.split(","):
        pm = re.fullmatch(
            r"(-|[0-9a-fA-Fx]+[kKmMgG]?)(?:@([0-9a-fA-Fx]+[kKmMgG]?))?\(([^)]+)\)(ro)?", item
        )
        if not pm:
            raise LinerateError(f"cannot parse mtdparts entry {item!r}")
        size_s, off_s, name, ro = pm.groups()
        if off_s:
            offset = size_bytes(off_s)
        size = None if size_s == "-" else size_bytes(size_s)
        parts.append(MtdPart(name=name, offset=offset, size=size, read_only=bool(ro)))
        if size is not None:
            offset += size
    return mtd_id, parts
