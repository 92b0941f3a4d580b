"""Read recipes/linux-ndiv/linux-ndiv.inc: the one list of kernel inputs.

The Yocto recipe ``require``s the same file, so the offline build and the
layer always agree on the source version, the patch series (in order) and the
configuration fragments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.layer.conf import logical_lines

RECIPE_DIR = ROOT / "recipes" / "linux-ndiv"
INC_PATH = RECIPE_DIR / "linux-ndiv.inc"
FILES_DIR = RECIPE_DIR / "files"

_ASSIGN = re.compile(r'^([A-Za-z_][A-Za-z0-9_:-]*)\s*(\?\?=|\?=|\+=|=|:=)\s*"(.*)"\s*$')


@dataclass(frozen=True)
class KernelInputs:
    """What the layer says the kernel is made of."""

    version: str
    debian_package: str
    debian_version: str
    defconfig: str
    patches: tuple[Path, ...]
    fragments: tuple[Path, ...]


def parse_inc(path: Path = INC_PATH, files_dir: Path = FILES_DIR) -> KernelInputs:
    """Parse the .inc; every file:// entry must exist in files_dir."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise LinerateError(f"cannot read the kernel recipe include {path}: {exc}") from exc
    values: dict[str, str] = {}
    src_uri: list[str] = []
    for line in logical_lines(text):
        m = _ASSIGN.match(line)
        if not m:
            continue
        name, op, value = m.groups()
        if name == "SRC_URI" and op == "+=":
            src_uri.extend(value.split())
        elif op in ("?=", "??="):
            values.setdefault(name, value)
        elif op in ("=", ":="):
            values[name] = value
    missing = [v for v in ("LINUX_VERSION", "LINUX_DEBIAN_VERSION") if v not in values]
    if missing:
        raise LinerateError(f"{path}: missing {', '.join(missing)}")
    patches: list[Path] = []
    fragments: list[Path] = []
    for uri in src_uri:
        if not uri.startswith("file://"):
            continue
        name = uri[len("file://") :].split(";")[0]
        file = files_dir / name
        if not file.is_file():
            raise LinerateError(f"{path}: SRC_URI names {name}, not found in {files_dir}")
        if name.endswith((".patch", ".diff")):
            patches.append(file)
        elif name.endswith(".cfg"):
            fragments.append(file)
    if not patches:
        raise LinerateError(f"{path}: no patches in SRC_URI")
    return KernelInputs(
        version=values["LINUX_VERSION"],
        debian_package=values.get("LINUX_DEBIAN_PACKAGE", "linux-source-6.12"),
        debian_version=values["LINUX_DEBIAN_VERSION"],
        defconfig=values.get("KBUILD_DEFCONFIG", "mvebu_v7_defconfig"),
        patches=tuple(patches),
        fragments=tuple(fragments),
    )
