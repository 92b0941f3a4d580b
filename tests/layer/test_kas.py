"""kas files: valid against the schema kas ships, loadable by kas, pinned."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import jsonschema
import kas
import pytest
import yaml
from kas.context import create_global_context
from kas.includehandler import IncludeHandler
from layerlib import BOARDS, ROOT

KAS_FILES = sorted(
    [ROOT / "kas.yml", ROOT / "kas.lock.yml", *ROOT.glob("board/*/kas.yml")],
)
SHA1 = re.compile(r"^[0-9a-f]{40}$")


def kas_schema() -> dict:
    path = Path(kas.__file__).parent / "schema-kas.json"
    assert path.is_file(), f"kas {kas.__version__} ships no schema at {path}"
    return json.loads(path.read_text())


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


def test_every_board_with_a_machine_has_an_overlay():
    assert {p.parent.name for p in ROOT.glob("board/*/kas.yml")} >= set(BOARDS)


@pytest.mark.parametrize("path", KAS_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_kas_file_matches_kas_schema(path):
    jsonschema.validate(load(path), kas_schema())


@pytest.mark.parametrize("path", KAS_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_header_version_is_one_this_kas_reads(path):
    version = load(path)["header"]["version"]
    supported = kas_schema()["properties"]["header"]["properties"]["version"]["anyOf"][1]
    assert isinstance(version, int) and version <= supported["maximum"]


def test_third_party_repos_pinned_to_branch_and_commit():
    repos = load(ROOT / "kas.yml")["repos"]
    third_party = {name: r for name, r in repos.items() if r and r.get("url")}
    assert {"openembedded-core", "bitbake"} <= set(third_party)
    for name, repo in third_party.items():
        assert repo.get("branch"), f"{name}: no branch"
        assert SHA1.match(str(repo.get("commit", ""))), f"{name}: commit is not a full SHA-1"
        assert str(repo.get("path", "")).startswith("layers/"), f"{name}: not under layers/"


def test_lock_file_pins_the_same_commits():
    repos = load(ROOT / "kas.yml")["repos"]
    locked = load(ROOT / "kas.lock.yml")["overrides"]["repos"]
    pinned = {n: r["commit"] for n, r in repos.items() if r and r.get("url")}
    assert {n: r["commit"] for n, r in locked.items()} == pinned


@pytest.mark.parametrize("layer, collection", [(".", "linerate"), ("distro", "linerate-distro")])
def test_layer_series_matches_pinned_branch(layer, collection):
    oe_branch = load(ROOT / "kas.yml")["repos"]["openembedded-core"]["branch"]
    layer_conf = (ROOT / layer / "conf" / "layer.conf").read_text()
    m = re.search(rf'^LAYERSERIES_COMPAT_{collection} = "([^"]+)"', layer_conf, re.M)
    assert m and m.group(1).split() == [oe_branch]


def test_kas_adds_the_bsp_and_the_distro_layer():
    layers = load(ROOT / "kas.yml")["repos"]["linerate"]["layers"]
    assert set(layers) == {".", "distro"}
    for layer in layers:
        assert (ROOT / layer / "conf" / "layer.conf").is_file()


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_kas_merges_board_overlay(board, monkeypatch, tmp_path):
    """kas's own include handler merges kas.yml with the overlay (and the lock
    file next to kas.yml) the way `kas build kas.yml:board/<b>/kas.yml` does."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("KAS_WORK_DIR", str(tmp_path))
    create_global_context(argparse.Namespace(no_color=True))
    handler = IncludeHandler([str(ROOT / "kas.yml"), str(ROOT / "board" / board / "kas.yml")])
    config, missing = handler.get_config()
    assert not missing
    assert config["machine"] == BOARDS[board]
    assert config["distro"] == "linerate"
    assert config["target"] == "linerate-image"
    locked = load(ROOT / "kas.lock.yml")["overrides"]["repos"]
    for name, lock in locked.items():
        assert config["repos"][name]["commit"] == lock["commit"]
