"""kas builds of the layer: the command per board and the checks a host must pass first.

What `linerate build` (linerate.layer.command) runs; no network used except the
reachability check of the source hosts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml

from linerate import ROOT
from linerate.board.profile import load_profile
from linerate.errors import LinerateError

KAS_FILE = ROOT / "kas.yml"
#: Free space a first build needs (downloads + tmp with rm_work): about 50 GB.
MIN_FREE_BYTES = 50 * 10**9
#: Servers a first build fetches from, besides the layers' git servers.
SOURCE_HOSTS = (
    "git.kernel.org",  # linux-ndiv: the 6.12 stable tree
    "downloads.yoctoproject.org",  # oe-core's source mirror
    "github.com",  # libubootenv and other git-hosted sources
)
#: Host programs bitbake's sanity check requires (oe-core HOSTTOOLS) that a
#: plain Debian install often lacks -> Debian package.
HOST_TOOLS = {
    "chrpath": "chrpath",
    "diffstat": "diffstat",
    "gawk": "gawk",
    "cpio": "cpio",
    "rpcgen": "libc-dev-bin",
    "zstd": "zstd",
    "lz4c": "lz4",
    "file": "file",
    "wget": "wget",
    "git": "git",
    "make": "make",
    "gcc": "gcc",
    "g++": "g++",
    "python3": "python3",
}
CONNECT_TIMEOUT = 5.0

Connector = Callable[[str, int, float], None]


def tcp_connect(host: str, port: int, timeout: float) -> None:
    """Open and close a TCP connection (raises OSError when it fails)."""
    with socket.create_connection((host, port), timeout=timeout):
        pass


@dataclass(frozen=True)
class Plan:
    board: str
    machine: str
    kas_config: str
    command: list[str]
    deploy_dir: Path
    images: dict[str, str]


def plan(board: str, container: bool = False, root: Path = ROOT) -> Plan:
    profile = load_profile(board)
    overlay = root / "board" / board / "kas.yml"
    if not overlay.is_file():
        raise LinerateError(f"{overlay} missing: board {board!r} has no kas overlay")
    machine_conf = root / "conf" / "machine" / f"{profile.kas_machine}.conf"
    if not machine_conf.is_file():
        raise LinerateError(
            f"board/{board}/board.yml names kas_machine {profile.kas_machine!r}, "
            f"but {machine_conf} does not exist"
        )
    kas_config = f"kas.yml:board/{board}/kas.yml"
    tool = "kas-container" if container else "kas"
    kas = shutil.which(tool) or str(Path(sys.executable).parent / tool)
    return Plan(
        board=board,
        machine=profile.kas_machine,
        kas_config=kas_config,
        command=[kas, "build", kas_config],
        deploy_dir=root / "build" / "tmp" / "deploy" / "images" / profile.kas_machine,
        images=dict(profile.images),
    )


def source_hosts(kas_file: Path = KAS_FILE) -> list[tuple[str, str]]:
    """(what, host) for every server the build fetches from."""
    repos = yaml.safe_load(kas_file.read_text())["repos"]
    hosts = [
        (f"kas repo {name}", urlparse(r["url"]).hostname or r["url"])
        for name, r in repos.items()
        if r and r.get("url")
    ]
    return hosts + [("sources", h) for h in SOURCE_HOSTS]


def unreachable(hosts: list[tuple[str, str]], connect: Connector = tcp_connect) -> list[str]:
    """Hosts the build needs that do not answer on HTTPS, with the reason."""
    needed: dict[str, list[str]] = {}
    for what, host in hosts:
        needed.setdefault(host, []).append(what)
    failures = []
    for host, whats in needed.items():
        try:
            connect(host, 443, CONNECT_TIMEOUT)
        except OSError as exc:
            failures.append(f"{host} ({', '.join(whats)}): {exc.strerror or exc}")
    return failures


def host_problems(root: Path = ROOT, container: bool = False) -> list[str]:
    """What would stop bitbake on this host, each with its fix."""
    problems = []
    if container:
        for tool in ("docker", "podman"):
            if shutil.which(tool):
                break
        else:
            problems.append("kas-container needs docker or podman: apt-get install podman")
        return problems
    if os.geteuid() == 0:
        problems.append(
            "bitbake refuses to run as root: build as a normal user, or use --container "
            "(kas-container runs bitbake as an unprivileged user inside the container)"
        )
    missing = sorted({pkg for prog, pkg in HOST_TOOLS.items() if shutil.which(prog) is None})
    if missing:
        problems.append(f"host tools missing: apt-get install {' '.join(missing)}")
    if not Path("/usr/lib/locale/en_US.utf8").exists() and not _has_locale("en_US.utf8"):
        problems.append("the en_US.UTF-8 locale is missing: apt-get install locales-all")
    build = root / "build"
    probe = build if build.exists() else root
    free = shutil.disk_usage(probe).free
    if free < MIN_FREE_BYTES:
        problems.append(
            f"{free / 1e9:.0f} GB free under {probe}: a first build needs about "
            f"{MIN_FREE_BYTES / 1e9:.0f} GB"
        )
    return problems


def _has_locale(name: str) -> bool:
    try:
        out = subprocess.run(
            ["locale", "-a"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return name.lower() in out.lower().split()


def offline_sources_present(root: Path = ROOT) -> bool:
    """kas mirrors or a pre-filled download directory stand in for the network."""
    return bool(os.environ.get("KAS_PREMIRRORS")) and (root / "build" / "downloads").is_dir()
