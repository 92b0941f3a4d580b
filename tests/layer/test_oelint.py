"""oelint-adv over every recipe, append and image, with the layer's rule file."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from layerlib import ROOT

CONFIG = ROOT / ".oelint.cfg"
OELINT = Path(sys.executable).parent / "oelint-adv"


def recipe_files() -> list[Path]:
    files = [*ROOT.glob("recipes/*/*.bb"), *ROOT.glob("recipes/*/*.bbappend")]
    files += ROOT.glob("images/*.bb")
    files += ROOT.glob("distro/recipes/*/*.bbappend")
    return sorted(files)


def test_layer_has_recipes_to_lint():
    names = {p.name for p in recipe_files()}
    assert {"linux-ndiv_6.12.bb", "linerate-image.bb", "slhttpd-module_0.1.bb"} <= names
    assert "busybox_%.bbappend" in names


def test_oelint_clean():
    assert OELINT.is_file(), f"{OELINT} missing: run make deps (oelint-adv is a dev dependency)"
    env = dict(os.environ, OELINT_CONFIG=str(CONFIG))
    result = subprocess.run(
        [str(OELINT), "--quiet", "--relpaths", *map(str, recipe_files())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    findings = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not findings, f"oelint-adv findings:\n{findings}"


def test_every_suppressed_rule_has_a_reason():
    """Each rule the config disables is preceded by a comment saying why."""
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    suppressed = parser["oelint"]["suppress"].split()
    assert suppressed, "no rules suppressed: then drop the suppress list"
    lines = CONFIG.read_text().splitlines()
    for rule in suppressed:
        at = next(i for i, line in enumerate(lines) if line.strip() == rule)
        before = at - 1
        while before >= 0 and lines[before].strip() in suppressed:
            before -= 1
        assert before >= 0 and lines[before].strip().startswith("#"), f"{rule}: no reason"
    assert parser["oelint"]["release"] == "wrynose"
