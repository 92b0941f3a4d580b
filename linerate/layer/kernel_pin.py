"""The kernel pin: the commit the stable tag names, written into linux-ndiv's SRCREV.

linux-ndiv fetches ``git://git.kernel.org/.../linux.git;...;tag=v${LINUX_VERSION}``.
Without a SRCREV bitbake would resolve the tag with ``git ls-remote`` while
*parsing*, which fails offline; with one, bitbake parses without the network
and its git fetcher checks at unpack time that the tag still names that commit.
The commit cannot be known offline, so the recipe carries a placeholder
(``LINERATE_KERNEL_UNPINNED``, all zeros: it parses, and do_fetch stops with
the step to run) until a host with network resolves the tag: `linerate build`
does it before its first build (:func:`ensure_pinned`), ``linerate build
--pin-kernel`` alone re-resolves and rewrites it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.layer import conf as layer_conf

KERNEL_BB = ROOT / "recipes" / "linux-ndiv" / "linux-ndiv_6.12.bb"
UNPINNED = "0" * 40
LS_REMOTE_TIMEOUT = 120
_SRCREV_LINE = re.compile(r'^SRCREV = "([0-9a-f]{40})"$', re.M)


@dataclass(frozen=True)
class KernelPin:
    """What the recipe says: where the tree is, which tag, which commit."""

    recipe: Path
    url: str
    tag: str
    srcrev: str

    @property
    def pinned(self) -> bool:
        return self.srcrev != UNPINNED


def git_url(src_uri: str) -> tuple[str, dict[str, str]]:
    """A bitbake ``git://host/path;protocol=P;k=v`` URI -> (``P://host/path``, params)."""
    head, *params = src_uri.split(";")
    if not head.startswith("git://"):
        raise LinerateError(f"not a git:// URI: {src_uri}")
    parm = dict(p.split("=", 1) for p in params if "=" in p)
    protocol = parm.get("protocol", "git")
    return f"{protocol}://{head[len('git://') :]}", parm


def read_pin(recipe: Path = KERNEL_BB) -> KernelPin:
    conf = layer_conf.read_conf(recipe, [recipe.parent, ROOT])
    uris = [u for u in conf.get("SRC_URI").split() if u.startswith("git://")]
    if len(uris) != 1:
        raise LinerateError(f"{recipe}: expected one git:// entry in SRC_URI, found {uris}")
    url, parm = git_url(uris[0])
    tag = parm.get("tag", "")
    if not tag or "${" in tag:
        raise LinerateError(f"{recipe}: SRC_URI has no resolvable tag= ({uris[0]})")
    matches = _SRCREV_LINE.findall(recipe.read_text())
    if len(matches) != 1:
        raise LinerateError(
            f'{recipe}: expected exactly one line SRCREV = "<40 hex digits>", found {len(matches)}'
        )
    return KernelPin(recipe=recipe, url=url, tag=tag, srcrev=matches[0])


def resolve_tag(url: str, tag: str, timeout: float = LS_REMOTE_TIMEOUT) -> str:
    """The commit ``tag`` names at ``url`` (an annotated tag is peeled: ``^{}``)."""
    ref = f"refs/tags/{tag}"
    try:
        result = subprocess.run(
            ["git", "ls-remote", url, ref, f"{ref}^{{}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        )
    except subprocess.TimeoutExpired as exc:
        raise LinerateError(f"git ls-remote {url} took more than {timeout:.0f} s") from exc
    if result.returncode != 0:
        raise LinerateError(
            f"git ls-remote {url} {ref} failed (exit {result.returncode}): "
            f"{result.stderr.strip()[-500:]}; pin the kernel on a host with network"
        )
    refs = dict(
        (name, sha) for sha, name in (line.split() for line in result.stdout.splitlines() if line)
    )
    commit = refs.get(f"{ref}^{{}}") or refs.get(ref)
    if not commit:
        raise LinerateError(f"{url} has no tag {tag}")
    return commit


def write_srcrev(recipe: Path, commit: str) -> None:
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise LinerateError(f"not a full commit id: {commit!r}")
    text = recipe.read_text()
    new, count = _SRCREV_LINE.subn(f'SRCREV = "{commit}"', text)
    if count != 1:
        raise LinerateError(f'{recipe}: expected exactly one line SRCREV = "...", found {count}')
    recipe.write_text(new)


def pin(recipe: Path = KERNEL_BB) -> tuple[KernelPin, bool]:
    """Resolve the tag and write its commit into the recipe; (new pin, whether it changed)."""
    old = read_pin(recipe)
    commit = resolve_tag(old.url, old.tag)
    if commit != old.srcrev:
        write_srcrev(recipe, commit)
    return read_pin(recipe), commit != old.srcrev


def ensure_pinned(recipe: Path = KERNEL_BB) -> tuple[KernelPin, bool]:
    """Pin when the recipe still has the placeholder; check a pin that is there.

    A pinned recipe whose tag now names another commit (the tag moved, or
    LINUX_VERSION changed without re-pinning) is an error naming the fix, rather
    than the fetch failure bitbake would report late in the build."""
    current = read_pin(recipe)
    if not current.pinned:
        return pin(recipe)
    commit = resolve_tag(current.url, current.tag)
    if commit != current.srcrev:
        raise LinerateError(
            f"{recipe.name}: SRCREV {current.srcrev} but {current.tag} names {commit} at "
            f"{current.url}: if LINUX_VERSION changed, re-pin with `python -m linerate build "
            "--pin-kernel` and commit it; if the tag moved upstream, find out why first"
        )
    return current, False
