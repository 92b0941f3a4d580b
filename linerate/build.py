"""`linerate build --board NAME`: the board's firmware images, built with kas.

Runs ``kas build kas.yml:board/NAME/kas.yml`` (or kas-container) from the
repository root, so the third-party layers land in layers/ and the images in
build/tmp/deploy/images/<machine>/, where the board profile (images:) and
`linerate flash` look for them. Before starting it checks what a multi-hour
build would otherwise trip over late: the host can reach the source servers
(or a KAS_PREMIRRORS / a complete DL_DIR stands in), bitbake is not run as
root, the host tools and the locale exist, and there is disk space.
"""

from __future__ import annotations

import argparse
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

from linerate.board.profile import load_profile
from linerate.errors import LinerateError

REPO_ROOT = Path(__file__).resolve().parent.parent
KAS_FILE = REPO_ROOT / "kas.yml"
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


def plan(board: str, container: bool = False, root: Path = REPO_ROOT) -> Plan:
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


def host_problems(root: Path = REPO_ROOT, container: bool = False) -> list[str]:
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


def offline_sources_present(root: Path = REPO_ROOT) -> bool:
    """kas mirrors or a pre-filled download directory stand in for the network."""
    return bool(os.environ.get("KAS_PREMIRRORS")) and (root / "build" / "downloads").is_dir()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "build",
        help="build a board's firmware images with kas (Yocto)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--board", required=True, help="board profile name (board/NAME/board.yml)")
    p.add_argument(
        "--container",
        action="store_true",
        help="build inside kas-container (docker/podman) instead of on the host",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check the host and print the kas command only"
    )
    p.add_argument(
        "--skip-checks",
        action="store_true",
        help="do not check the host or the network first (kas/bitbake will still fail late)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    build_plan = plan(args.board, container=args.container)
    print(f"linerate build: board {build_plan.board}, machine {build_plan.machine}")
    print(f"  command:  (cd {REPO_ROOT} && {' '.join(build_plan.command)})")
    print(f"  outputs:  {build_plan.deploy_dir}/")
    if not args.skip_checks:
        problems = host_problems(container=args.container)
        if not offline_sources_present():
            failed = unreachable(source_hosts())
            if failed:
                problems.append(
                    "this host cannot reach the sources the build fetches:\n      "
                    + "\n      ".join(failed)
                    + "\n    build on a host with internet access, or give kas mirrors "
                    "(KAS_PREMIRRORS) and a filled build/downloads (see docs/yocto.md)"
                )
        if problems:
            raise LinerateError("cannot build here:\n  - " + "\n  - ".join(problems))
    if args.dry_run:
        return 0
    if not Path(build_plan.command[0]).exists():
        raise LinerateError(
            f"{build_plan.command[0]} not found: run make deps (kas is a dev dependency)"
        )
    env = dict(os.environ, KAS_WORK_DIR=str(REPO_ROOT))
    result = subprocess.run(build_plan.command, cwd=REPO_ROOT, env=env, check=False)
    if result.returncode != 0:
        raise LinerateError(
            f"kas build failed (exit {result.returncode}); the failing task's log is "
            "named above (build/tmp/work/.../temp/log.do_*)"
        )
    for medium, rel in sorted(build_plan.images.items()):
        path = REPO_ROOT / rel
        state = f"{path.stat().st_size} bytes" if path.exists() else "MISSING"
        print(f"  {medium:12} {rel}: {state}")
    return 0
