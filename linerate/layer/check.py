"""`make check-layer`: the Yocto Project Compatible check of both layers, offline.

Runs openembedded-core's ``scripts/yocto-check-layer`` from the pinned
third-party layers (the machinery of :mod:`linerate.layer.parse`: unpacked once
into the cache, bitbake run as an unprivileged user when called as root) on

- the BSP layer (the repository root), with ``--machines openblocks-ax3 mirabox``;
- the distro layer (``distro/``).

Both are tested in one run of the script (``--no-auto``: only these two
directories, never third-party checkouts a kas build left in ``layers/``). The
layers under test are a snapshot of the working tree (tracked and untracked,
not ignored, files) in the workspace, made a git repository so that the
script finds the top-level SECURITY.md as it would in a clone. The build
directory is oe-core's default configuration (``MACHINE ??= "qemux86-64"``,
``DISTRO`` nodistro) without network. It takes about 50 minutes on 2 cores;
the whole output goes to ``artifacts/check-layer.log``.

Exit status: 0 when every layer passes (or when there are no third-party
layers: then it says so and skips), 1 when a layer fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.layer import parse

#: The BSP layer's machines, as the issue's acceptance command names them.
MACHINES = ("openblocks-ax3", "mirabox")
#: The distro layer, relative to the repository root.
DISTRO_LAYER = "distro"
LOG = ROOT / "artifacts" / "check-layer.log"
#: Seconds the whole check may take (measured: 53 min on 2 shared cores).
CHECK_TIMEOUT = 3 * 3600
#: Environment variables bitbake takes from the environment, as
#: oe-init-build-env sets them: yocto-check-layer passes MACHINE this way.
PASSTHROUGH = "MACHINE DISTRO TCMODE TCLIBC BB_NO_NETWORK"


def snapshot(root: Path, dest: Path) -> Path:
    """Copy the files git knows or would add (not ignored ones) to ``dest``; make it a
    git repository (yocto-check-layer looks for SECURITY.md at the top of the layer's
    repository)."""
    listed = subprocess.run(
        [
            "git",
            "-c",
            f"safe.directory={root}",
            "-C",
            str(root),
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if listed.returncode != 0:
        raise LinerateError(f"git ls-files in {root} failed: {listed.stderr.decode()[-500:]}")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for raw in listed.stdout.split(b"\0"):
        if not raw:
            continue
        rel = Path(os.fsdecode(raw))
        src = root / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree, not yet in the index
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
    subprocess.run(["git", "init", "-q", str(dest)], capture_output=True, timeout=60, check=True)
    return dest


def write_check_conf(build: Path, layers: parse.Layers) -> None:
    """oe-core's default build configuration, offline, everything inside ``build``."""
    conf = build / "conf"
    shutil.rmtree(conf, ignore_errors=True)
    conf.mkdir(parents=True)
    (conf / "bblayers.conf").write_text(
        f'BBPATH = "${{TOPDIR}}"\nBBFILES ?= ""\nBBLAYERS = "{layers.oe_core / "meta"}"\n'
    )
    (conf / "local.conf").write_text(
        'MACHINE ??= "qemux86-64"\n'
        'BB_NO_NETWORK = "1"\n'
        'CONNECTIVITY_CHECK_URIS = ""\n'
        'BB_NUMBER_THREADS = "2"\n'
        'BB_NUMBER_PARSE_THREADS = "2"\n'
        f'TMPDIR = "{build}/tmp"\n'
        f'DL_DIR = "{build}/downloads"\n'
        f'SSTATE_DIR = "{build}/sstate"\n'
        f'PERSISTENT_DIR = "{build}/cache"\n'
    )


def command(layers: parse.Layers, bsp: Path, distro: Path) -> list[str]:
    script = layers.oe_core / "scripts" / "yocto-check-layer"
    return [
        str(script),
        "--no-auto",
        "--machines",
        *MACHINES,
        "--",
        str(bsp),
        str(distro),
    ]


#: yocto-check-layer's own layer detection and patch check, without bitbake: what
#: the layer tier runs on every `make test` (seconds) before the full check.
DETECT_SCRIPT = """
import json, logging, os, sys
oe_core, bitbake = sys.argv[1], sys.argv[2]
sys.path[:0] = [oe_core + "/scripts/lib", bitbake + "/lib", oe_core + "/meta/lib"]
from checklayer import detect_layers, get_layer_dependencies
import oe.qa
layers = detect_layers(sys.argv[3:], True)
out = []
for layer in layers:
    deps = get_layer_dependencies(layer, layers, logging.getLogger("check"))
    patches = []
    for dirpath, _dirs, files in os.walk(layer["path"]):
        patches += [os.path.join(dirpath, f) for f in files if f.endswith(".patch")]
    out.append({
        "name": layer["name"],
        "path": layer["path"],
        "type": layer["type"].name,
        "machines": sorted(layer["conf"].get("machines", [])),
        "distros": sorted(layer["conf"].get("distros", [])),
        "collections": {
            name: {"compat": c["compat"], "depends": c["depends"]}
            for name, c in layer.get("collections", {}).items()
        },
        "layer_depends": None if deps is None else [d["name"] for d in deps],
        "bad_patches": [p for p in patches if oe.qa.check_upstream_status(p)],
    })
print(json.dumps(out))
"""


def detect(layers: parse.Layers, dirs: list[Path]) -> list[dict[str, object]]:
    """How yocto-check-layer sees ``dirs`` (type, machines, distros, collections,
    dependencies, patches without a valid Upstream-Status), with its own code."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            DETECT_SCRIPT,
            str(layers.oe_core),
            str(layers.bitbake),
            *map(str, dirs),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise LinerateError(f"yocto-check-layer's layer detection failed: {result.stderr[-2000:]}")
    data: list[dict[str, object]] = json.loads(result.stdout)
    return data


def run(log: Path = LOG) -> int:
    layers = parse.find_layers()
    if layers is None:
        print(
            "check-layer: SKIPPED: no third-party layers: "
            f"{parse.LAYERS_ENV} is not set and {parse.SHARED_ARCHIVE} does not exist "
            f"(or set {parse.ARCHIVE_ENV}); yocto-check-layer comes from openembedded-core"
        )
        return 0
    problems = layers.problems()
    if problems:
        raise LinerateError(f"{layers.root}: missing {', '.join(problems)}")
    base = parse.workspace() / "check-layer"
    # Named after the project: yocto-check-layer names a layer by its directory.
    src = snapshot(ROOT, base / "linerate")
    build = base / "build"
    write_check_conf(build, layers)
    prefix, uid, gid = parse._as_unprivileged()
    if prefix:
        for path in (src, build):
            parse._chown_tree(path, uid, gid)
    env = {
        "PATH": f"{layers.oe_core}/scripts:{layers.bitbake}/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "BUILDDIR": str(build),
        "BBPATH": str(build),
        "HOME": str(build),
        "LANG": "en_US.UTF-8",
        "LC_ALL": "en_US.UTF-8",
        "BB_NO_NETWORK": "1",
        "BB_ENV_PASSTHROUGH_ADDITIONS": PASSTHROUGH,
    }
    cmd = command(layers, src, src / DISTRO_LAYER)
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"check-layer: {' '.join(cmd)}")
    print(f"check-layer: build directory {build}, full output in {log}", flush=True)
    parse.wait_for_server_exit(build)
    start = time.monotonic()
    with log.open("w") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        proc = subprocess.Popen(
            [*prefix, *cmd],
            cwd=build,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                sys.stdout.write(line)
                sys.stdout.flush()
            status = proc.wait(timeout=CHECK_TIMEOUT)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            proc.terminate()
            proc.wait(timeout=60)
            raise
        minutes = (time.monotonic() - start) / 60
        out.write(f"check-layer: exit status {status} after {minutes:.1f} min\n")
    print(f"check-layer: yocto-check-layer exit status {status} after {minutes:.1f} min")
    return 0 if status == 0 else 1


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m linerate.layer.check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    try:
        return run()
    except LinerateError as exc:
        print(f"check-layer: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
