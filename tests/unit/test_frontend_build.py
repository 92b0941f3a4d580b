"""`linerate serve` runs the frontend built from the current sources: a change to a
core source rebuilds it (make decides), an unchanged tree is not rebuilt."""

from __future__ import annotations

import os
import shutil

import pytest

from linerate.host import frontend


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_a_changed_core_source_rebuilds_the_frontend(tmp_path, monkeypatch):
    tree = tmp_path / "slhttpd"
    shutil.copytree(frontend.SLHTTPD_DIR, tree, ignore=shutil.ignore_patterns("out"))
    monkeypatch.setattr(frontend, "SLHTTPD_DIR", tree)
    first = frontend.build()
    assert first == tree / "out" / "slhttpd-host" and first.is_file()
    built = first.stat().st_mtime_ns
    assert frontend.build().stat().st_mtime_ns == built  # up to date: not rebuilt
    source = sorted((tree / "core").glob("*.c"))[0]
    later = built + 2_000_000_000
    os.utime(source, ns=(later, later))
    assert frontend.build().stat().st_mtime_ns > built
