"""Parse the layer with bitbake and compute an image's task graph, offline.

Needs the third-party layers checked out kas-style in one directory
(``openembedded-core/`` and ``bitbake/`` side by side, as kas.yml's
``layers/``): ``LINERATE_LAYERS_DIR`` names such a directory; else the archive of
them (``$LINERATE_LAYERS_ARCHIVE``, else ``../shared/layers/layers-wrynose.tar.xz``
beside the project) is unpacked once into the cache. bitbake refuses to run as
root, so when called as root the commands run as ``nobody`` (setpriv), in a
workspace that user can reach (see :func:`workspace`).
Network access is off (``BB_NO_NETWORK = "1"``): parsing and the task graph
need no sources.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import re
import shutil
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from linerate import ROOT
from linerate.cache import cache_root
from linerate.errors import LinerateError

LAYERS_ENV = "LINERATE_LAYERS_DIR"
ARCHIVE_ENV = "LINERATE_LAYERS_ARCHIVE"
#: The pinned third-party layers as the project's shared folder holds them.
SHARED_ARCHIVE = ROOT.parent / "shared" / "layers" / "layers-wrynose.tar.xz"
#: Where bitbake works when the unprivileged user cannot reach the cache (root's
#: cache is under /root, mode 0700).
FALLBACK_WORKSPACE = Path("/var/tmp/linerate-bitbake")
#: Seconds one bitbake command may take (a cold parse of oe-core on 2 cores
#: takes 1-3 minutes).
BITBAKE_TIMEOUT = 900
UNPRIVILEGED_USER = "nobody"
#: Seconds to wait for a finished command's bitbake server to save its cache
#: and exit (the next command would otherwise reparse everything).
SERVER_EXIT_TIMEOUT = 180


@dataclass(frozen=True)
class Layers:
    """Third-party layers in a kas-style directory."""

    root: Path

    @property
    def oe_core(self) -> Path:
        return self.root / "openembedded-core"

    @property
    def bitbake(self) -> Path:
        return self.root / "bitbake"

    def problems(self) -> list[str]:
        """What is missing for a parse, empty when complete."""
        missing = []
        if not (self.oe_core / "meta" / "conf" / "layer.conf").is_file():
            missing.append(f"{self.oe_core}/meta/conf/layer.conf")
        if not (self.bitbake / "bin" / "bitbake").is_file():
            missing.append(f"{self.bitbake}/bin/bitbake")
        return missing


def layers_from_env() -> Layers | None:
    value = os.environ.get(LAYERS_ENV, "")
    return Layers(Path(value).resolve()) if value else None


def layers_archive() -> Path | None:
    """The archive of the pinned layers, if there is one."""
    value = os.environ.get(ARCHIVE_ENV)
    path = Path(value) if value else SHARED_ARCHIVE
    return path if path.is_file() else None


def find_layers() -> Layers | None:
    """``$LINERATE_LAYERS_DIR``, else the archive unpacked in the workspace, else None."""
    found = layers_from_env()
    if found is not None:
        return found
    archive = layers_archive()
    return Layers(unpack_layers(archive)) if archive is not None else None


def _reachable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether a process of uid/gid (no supplementary groups) can enter ``path``."""
    for d in (path, *path.parents):
        if not d.exists():
            continue
        st = d.stat()
        if st.st_uid == uid:
            bits = 0o100
        elif st.st_gid == gid:
            bits = 0o010
        else:
            bits = 0o001
        if not st.st_mode & bits:
            return False
    return True


def workspace() -> Path:
    """Where bitbake's build directories and the unpacked layers live: the cache
    (``<cache>/layer``) when bitbake's user can reach it, else /var/tmp/linerate-bitbake
    (as root the cache is in /root, which ``nobody`` cannot enter)."""
    _, uid, gid = _as_unprivileged()
    preferred = cache_root() / "layer"
    base = preferred if _reachable_by(preferred, uid, gid) else FALLBACK_WORKSPACE
    base.mkdir(parents=True, exist_ok=True)
    return base


def unpack_layers(archive: Path) -> Path:
    """Unpack ``archive`` once (keyed by its name, size and mtime); return the directory."""
    st = archive.stat()
    key = f"{archive.name.split('.')[0]}-{st.st_size:x}-{int(st.st_mtime):x}"
    dest = workspace() / "layers" / key
    done = dest / ".unpacked"
    if done.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (dest.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return dest
        shutil.rmtree(dest, ignore_errors=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        result = subprocess.run(
            ["tar", "-xJf", str(archive), "-C", str(tmp)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise LinerateError(f"cannot unpack {archive}: {result.stderr.strip()[-500:]}")
        os.chmod(tmp, 0o755)
        tmp.rename(dest)
        done.write_text(f"{archive}\n")
    return dest


def git_head(repo: Path) -> str:
    out = subprocess.run(
        ["git", "-c", f"safe.directory={repo}", "-C", str(repo), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return out.stdout.strip()


def write_build_conf(
    build: Path,
    layer_root: Path,
    layers: Layers,
    machine: str,
    oe_core_only: Collection[Path] | None = None,
) -> None:
    """A minimal build directory: oe-core, the BSP and distro layers, the machine,
    no network. Nothing stands in for the kernel's SRCREV: the recipe parses
    offline as it is (pinned or with its placeholder).

    ``oe_core_only``: parse only these of oe-core's recipes (``BBMASK`` hides the
    others; our layers' recipes are always parsed), e.g. an image's closure for
    another machine (:func:`recipe_files`): about 90 of its 1,000 recipes."""
    conf = build / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "bblayers.conf").write_text(
        'BBPATH = "${TOPDIR}"\n'
        'BBFILES ?= ""\n'
        f'BBLAYERS = "{layers.oe_core / "meta"} {layer_root} {layer_root / "distro"}"\n'
    )
    (conf / "local.conf").write_text(
        f'MACHINE = "{machine}"\n'
        'DISTRO = "linerate"\n'
        'BB_NO_NETWORK = "1"\n'
        'CONNECTIVITY_CHECK_URIS = ""\n'
        'BB_NUMBER_THREADS = "2"\n'
        'BB_NUMBER_PARSE_THREADS = "2"\n'
        'PARALLEL_MAKE = "-j 2"\n'
        # Everything bitbake writes stays inside the build directory.
        f'TMPDIR = "{build}/tmp-${{MACHINE}}"\n'
        f'DL_DIR = "{build}/downloads"\n'
        f'SSTATE_DIR = "{build}/sstate"\n'
        f'PERSISTENT_DIR = "{build}/cache"\n'
        'BB_SERVER_TIMEOUT = "0"\n'
        + (_oe_core_mask(layers, oe_core_only) if oe_core_only is not None else "")
    )


def _oe_core_mask(layers: Layers, keep: Collection[Path]) -> str:
    """A BBMASK line hiding every oe-core recipe but ``keep``."""
    meta = layers.oe_core / "meta"
    kept = sorted(str(p.relative_to(meta)) for p in keep if p.is_relative_to(meta))
    alternatives = "|".join(re.escape(k) for k in kept)
    return f'BBMASK += "^{re.escape(str(meta))}/(?!(?:{alternatives})$).*\\.bb(append)?$"\n'


def recipe_files(build: Path) -> set[Path]:
    """The recipe files of the last ``bitbake -g`` in ``build`` (task-depends.dot's
    labels end in the recipe's path, after ``virtual:native:`` and the like)."""
    dot = (build / "task-depends.dot").read_text()
    return {Path(m.split(":")[-1]) for m in re.findall(r'\\n([^"\\]+\.bb)"\]', dot)}


def _as_unprivileged() -> tuple[list[str], int, int]:
    """Command prefix running as an unprivileged user, and its uid/gid."""
    if os.geteuid() != 0:
        return [], os.geteuid(), os.getegid()
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    setpriv = shutil.which("setpriv")
    if not setpriv:
        raise LinerateError("bitbake refuses root and setpriv (util-linux) is not installed")
    prefix = [
        setpriv,
        f"--reuid={entry.pw_uid}",
        f"--regid={entry.pw_gid}",
        "--clear-groups",
    ]
    return prefix, entry.pw_uid, entry.pw_gid


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, gid)
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def bitbake(build: Path, layers: Layers, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run bitbake in ``build`` with the environment oe-init-build-env sets."""
    prefix, uid, gid = _as_unprivileged()
    if prefix:
        _chown_tree(build, uid, gid)
    env = {
        "PATH": f"{layers.oe_core}/scripts:{layers.bitbake}/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "BBPATH": str(build),
        "BUILDDIR": str(build),
        "PYTHONPATH": str(layers.bitbake / "lib"),
        "HOME": str(build),
        "LANG": "en_US.UTF-8",
        "LC_ALL": "en_US.UTF-8",
        "BB_NO_NETWORK": "1",
    }
    wait_for_server_exit(build)
    try:
        return subprocess.run(
            [*prefix, str(layers.bitbake / "bin" / "bitbake"), *args],
            cwd=build,
            env=env,
            capture_output=True,
            text=True,
            timeout=BITBAKE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LinerateError(f"bitbake {' '.join(args)} took more than {BITBAKE_TIMEOUT} s") from exc


def wait_for_server_exit(build: Path, timeout: float = SERVER_EXIT_TIMEOUT) -> None:
    """Wait until no bitbake server holds the build directory's lock."""
    lock = build / "bitbake.lock"
    if not lock.exists():
        return
    deadline = time.monotonic() + timeout
    with open(lock, "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LinerateError(
                        f"a bitbake server still holds {lock} after {timeout:.0f} s"
                    ) from None
                time.sleep(0.5)
                continue
            fcntl.flock(handle, fcntl.LOCK_UN)
            return


@dataclass(frozen=True)
class TaskGraph:
    """What `bitbake -g` wrote: the recipes and tasks an image build runs."""

    recipes: set[str]
    tasks: set[str]


def task_graph(build: Path, layers: Layers, target: str) -> TaskGraph:
    result = bitbake(build, layers, ["-g", target])
    if result.returncode != 0:
        output = result.stdout[-4000:] + result.stderr[-4000:]
        raise LinerateError(f"bitbake -g {target} failed in {build}:\n{output}")
    recipes = set((build / "pn-buildlist").read_text().split())
    tasks: set[str] = set()
    for line in (build / "task-depends.dot").read_text().splitlines():
        line = line.strip()
        if line.startswith('"') and "->" not in line:
            tasks.add(line.split('"')[1])
    return TaskGraph(recipes=recipes, tasks=tasks)
