"""The vexpress board's U-Boot build: where its source comes from, and what it says
when there is none (the board tests then skip with that message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from linerate.errors import LinerateError
from linerate.vboard import vendor_uboot


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINERATE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LINERATE_UBOOT_SRC", raising=False)
    monkeypatch.delenv("LINERATE_UBOOT_GIT", raising=False)


def test_no_source_says_how_to_provide_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(vendor_uboot, "DEFAULT_GIT", tmp_path / "no-mirror")
    assert vendor_uboot.find_uboot("nohush") is None
    with pytest.raises(LinerateError) as info:
        vendor_uboot.build_uboot("nohush")
    message = str(info.value)
    assert "LINERATE_UBOOT_SRC=DIR" in message and "LINERATE_UBOOT_GIT=DIR" in message
    assert "git archive v2011.12" in message


def test_a_tree_that_is_not_uboot_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("LINERATE_UBOOT_SRC", str(tmp_path))
    with pytest.raises(LinerateError, match="is not a U-Boot v2011.12 tree"):
        vendor_uboot.build_uboot("hush")


def test_a_git_dir_without_the_tag_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("LINERATE_UBOOT_GIT", str(tmp_path / "empty.git"))
    with pytest.raises(LinerateError, match="archive v2011.12 failed"):
        vendor_uboot.build_uboot("nohush")


def test_the_variants_build_apart():
    with pytest.raises(LinerateError, match="expected one of"):
        vendor_uboot.find_uboot("bash")
    keys = {vendor_uboot.build_dir(p).name for p in vendor_uboot.PARSERS}
    assert len(keys) == 2 and all(k.startswith("uboot-v2011.12-") for k in keys)
