"""The kernel pin against a real git remote (a local bare repository with tags).

`linerate build --pin-kernel` resolves linux-ndiv's tag with git ls-remote and
writes the commit into SRCREV; `linerate build` pins on its first run and then
checks the pin; bitbake's own git fetcher (from the pinned bitbake, when the
third-party layers are there) accepts the pinned commit and refuses one the tag
does not name.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from layerlib import ROOT

from linerate.errors import LinerateError
from linerate.layer import kernel_pin
from linerate.layer import parse as layer_parse

RECIPE_DIR = ROOT / "recipes" / "linux-ndiv"
BRANCH = "linux-6.12.y"
UPSTREAM_URL = "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git;protocol=https;"


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=master",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


class Remote:
    """A bare repository standing in for the stable tree: branch linux-6.12.y."""

    def __init__(self, root: Path) -> None:
        self.work = root / "work"
        self.bare = root / "linux.git"
        self.work.mkdir(parents=True)
        git("init", "-q", "-b", BRANCH, cwd=self.work)
        git("init", "-q", "--bare", str(self.bare), cwd=root)
        git("remote", "add", "origin", str(self.bare), cwd=self.work)

    def commit(self, message: str) -> str:
        (self.work / "Makefile").write_text(f"# {message}\n")
        git("add", "Makefile", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "origin", BRANCH, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def tag(self, name: str, annotated: bool = True) -> None:
        if annotated:
            git("tag", "-f", "-a", "-m", name, name, cwd=self.work)
        else:
            git("tag", "-f", name, cwd=self.work)
        git("push", "-q", "-f", "origin", f"refs/tags/{name}", cwd=self.work)

    def tag_object(self, name: str) -> str:
        return git("rev-parse", f"refs/tags/{name}", cwd=self.work)


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "remote")


@pytest.fixture
def recipe(tmp_path: Path, remote: Remote) -> Path:
    """linux-ndiv's recipe and inc, copied, fetching from the local remote."""
    copy = tmp_path / "linux-ndiv"
    copy.mkdir()
    shutil.copy(RECIPE_DIR / "linux-ndiv.inc", copy)
    bb = (RECIPE_DIR / "linux-ndiv_6.12.bb").read_text()
    assert UPSTREAM_URL in bb
    bb = bb.replace(UPSTREAM_URL, f"git://{remote.bare};protocol=file;")
    (copy / "linux-ndiv_6.12.bb").write_text(bb)
    return copy / "linux-ndiv_6.12.bb"


def version() -> str:
    return kernel_pin.read_pin().tag


def test_the_recipe_reads_as_upstream_tag_and_a_full_commit():
    pin = kernel_pin.read_pin()
    assert pin.url == "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git"
    assert pin.tag.startswith("v6.12.")
    assert len(pin.srcrev) == 40


def test_pin_writes_the_commit_an_annotated_tag_names(recipe, remote):
    remote.commit("6.12.116")
    wanted = remote.commit("6.12.117")
    remote.tag(version())
    assert remote.tag_object(version()) != wanted  # annotated: peeled with ^{}
    remote.commit("later")
    before = recipe.read_text()
    assert not kernel_pin.read_pin(recipe).pinned
    pin, changed = kernel_pin.pin(recipe)
    assert changed and pin.pinned and pin.srcrev == wanted
    after = recipe.read_text()
    # Only the SRCREV line changed.
    assert before.replace(f'SRCREV = "{kernel_pin.UNPINNED}"', f'SRCREV = "{wanted}"') == after
    assert kernel_pin.pin(recipe) == (pin, False)


def test_pin_takes_a_lightweight_tag_too(recipe, remote):
    wanted = remote.commit("6.12.117")
    remote.tag(version(), annotated=False)
    assert kernel_pin.pin(recipe)[0].srcrev == wanted


def test_missing_tag_or_unreachable_remote_is_one_clear_error(recipe, remote, tmp_path):
    remote.commit("6.12.116")
    with pytest.raises(LinerateError, match=f"has no tag {version()}"):
        kernel_pin.pin(recipe)
    with pytest.raises(LinerateError, match="git ls-remote .* failed"):
        kernel_pin.resolve_tag(f"file://{tmp_path}/nowhere.git", "v1")
    assert not kernel_pin.read_pin(recipe).pinned


def test_build_pins_once_then_checks_the_tag_still_names_the_commit(recipe, remote):
    first = remote.commit("6.12.117")
    remote.tag(version())
    assert kernel_pin.ensure_pinned(recipe)[0].srcrev == first
    assert kernel_pin.ensure_pinned(recipe) == (kernel_pin.read_pin(recipe), False)
    remote.commit("rewritten")
    remote.tag(version())  # the tag moved upstream
    with pytest.raises(LinerateError, match="re-pin with"):
        kernel_pin.ensure_pinned(recipe)
    assert kernel_pin.read_pin(recipe).srcrev == first  # nothing rewritten silently


def test_cli_pin_kernel_offline_fails_clearly_and_changes_nothing():
    before = (RECIPE_DIR / "linux-ndiv_6.12.bb").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "linerate", "build", "--pin-kernel"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        # An unresolvable proxy: no network whatever this host has.
        env={"PATH": "/usr/bin:/bin", "https_proxy": "http://127.0.0.1:9", "HOME": "/tmp"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "git ls-remote" in result.stderr and "Traceback" not in result.stderr
    assert (RECIPE_DIR / "linux-ndiv_6.12.bb").read_text() == before


FETCH_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    import bb.data, bb.fetch2
    uri, srcrev, tmp = sys.argv[2:5]
    d = bb.data.init()
    d.setVar("DL_DIR", tmp + "/downloads")
    d.setVar("PERSISTENT_DIR", tmp + "/persist")
    d.setVar("PN", "linux-ndiv")
    d.setVar("SRCREV", srcrev)
    d.setVar("BB_NO_NETWORK", "1")
    try:
        fetcher = bb.fetch2.Fetch([uri], d)
        fetcher.download()
        fetcher.unpack(tmp + "/unpack")
    except bb.fetch2.BBFetchException as exc:
        print("FETCH-ERROR", exc)
        sys.exit(3)
    print("FETCHED")
    """
)


def bitbake_fetch(layers: layer_parse.Layers, uri: str, srcrev: str, tmp: Path):
    tmp.mkdir()
    return subprocess.run(
        [sys.executable, "-c", FETCH_SCRIPT, str(layers.bitbake / "lib"), uri, srcrev, str(tmp)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bitbake_checks_the_tag_still_names_the_pinned_commit(recipe, remote, tmp_path):
    layers = layer_parse.find_layers()
    if layers is None:
        pytest.skip("no third-party layers: the check is bitbake's own git fetcher")
    old = remote.commit("6.12.117")
    remote.tag(version())
    pin, _ = kernel_pin.pin(recipe)
    uri = f"git://{remote.bare};protocol=file;branch={BRANCH};tag={pin.tag}"
    ok = bitbake_fetch(layers, uri, pin.srcrev, tmp_path / "ok")
    assert ok.returncode == 0 and "FETCHED" in ok.stdout, ok.stdout + ok.stderr
    assert (tmp_path / "ok" / "unpack" / "git" / "Makefile").read_text() == "# 6.12.117\n"
    # The tag moves to another commit: the pinned build stops.
    remote.commit("rewritten")
    remote.tag(pin.tag)
    moved = bitbake_fetch(layers, uri, old, tmp_path / "moved")
    assert moved.returncode == 3, moved.stdout + moved.stderr
    assert "didn't match the SRCREV in use" in moved.stdout, moved.stdout
