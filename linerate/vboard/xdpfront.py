"""SLHTTPD's XDP frontend for the virtual board's guest (slhttpd/xdp/README.md, "On the
virtual board"): ``slhttpd-host`` cross-built static for armhf, and the XDP programs.

The guest runs ``slhttpd-host --mode xdp`` on its test port (eth1, virtio-net). libbpf,
libxdp, libelf and zlib for armhf come from Debian's archive the way busybox does
(:mod:`linerate.vboard.debian`: ``apt-get download`` into the cache, never installed), and
are linked statically, so the binary needs nothing else in the initramfs. The XDP objects
are ``make -C slhttpd``'s (``clang -target bpf``: the same object for every host): the guest
needs ``slhttpd_xdp_noparse.o`` (no request parser: the 32-bit ARM JIT has no bpf-to-bpf
calls, which the parser's ``bpf_loop()`` callback needs); ``slhttpd_xdp.o`` is there too, to
show the kernel still refuses it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.vboard import debian
from linerate.vboard.cache import InputKey, vboard_dir

SLHTTPD = ROOT / "slhttpd"
CROSS_CC = "arm-linux-gnueabihf-gcc"
#: Debian armhf packages whose headers and static libraries the frontend links.
LIB_PACKAGES = ("libbpf-dev", "libxdp-dev", "libelf-dev", "zlib1g-dev")
LIBS = ("-lxdp", "-lbpf", "-lelf", "-lz")
FORMAT = "xdpfront-v1"
#: Guest paths (the frontend takes the object with --xdp-obj).
GUEST_BINARY = "usr/bin/slhttpd-host"
GUEST_OBJ = "usr/lib/slhttpd/slhttpd_xdp_noparse.o"
GUEST_OBJ_FULL = "usr/lib/slhttpd/slhttpd_xdp.o"
OBJECTS = {GUEST_OBJ: "slhttpd_xdp_noparse.o", GUEST_OBJ_FULL: "slhttpd_xdp.o"}
#: The BPF build's tools (Debian clang, llvm: scripts/apt-packages.txt).
BPF_TOOLS = ("clang", "llvm-link", "opt", "llc", "llvm-strip")


def _sources() -> list[Path]:
    files = [SLHTTPD / "Makefile"]
    for sub in ("core", "host", "xdp"):
        files += sorted(p for p in (SLHTTPD / sub).iterdir() if p.suffix in (".c", ".h"))
    return files


def _version(tool: str) -> str:
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    if res.returncode != 0:
        raise LinerateError(f"{what} failed: {' '.join(cmd)}\n{(res.stdout + res.stderr)[-3000:]}")


def guest_files() -> dict[str, Path]:
    """Guest path -> built file: the armhf ``slhttpd-host`` and both XDP objects. Empty
    without the cross compiler (as :func:`linerate.vboard.initramfs.guest_tools`) or the BPF
    build's tools (tests/vboard/test_xdp_guest.py then says so)."""
    cc = shutil.which(CROSS_CC)
    if cc is None or not all(shutil.which(t) for t in BPF_TOOLS):
        return {}
    trees = [debian.extract(p) for p in LIB_PACKAGES]
    key = InputKey(FORMAT).add("cc", _version(cc)).add("clang", _version("clang"))
    for tree in trees:
        key.add("deb", tree.name)
    key.add_files((str(p.relative_to(SLHTTPD)), p) for p in _sources())
    out = vboard_dir("xdpfront", key.hexdigest())
    files = {GUEST_BINARY: out / "slhttpd-host"} | {g: out / n for g, n in OBJECTS.items()}
    if all(p.is_file() for p in files.values()):
        return files
    work = out / "build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # The XDP objects: make's rules (BPF does not depend on the host's architecture).
    _run(["make", "-s", "-C", str(SLHTTPD), f"OUT={work}",
          *(str(work / n) for n in OBJECTS.values())], "make -C slhttpd (XDP objects)")  # fmt: skip
    for name in OBJECTS.values():
        # The DWARF goes (a quarter of the size); .BTF and .BTF.ext stay: libbpf needs them.
        _run(["llvm-strip", "--strip-debug", "-o", str(out / name), str(work / name)],
             "llvm-strip")  # fmt: skip
    incs = [f"-I{t}/usr/include" for t in trees]
    libdirs = [f"-L{t}/usr/lib/arm-linux-gnueabihf" for t in trees]
    srcs = sorted(str(p) for p in (SLHTTPD / "host").glob("*.c")) + sorted(
        str(p) for p in (SLHTTPD / "core").glob("*.c")
    )
    tmp = out / ".slhttpd-host.tmp"
    _run([cc, "-static", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-s",
          f"-I{SLHTTPD / 'core'}", *incs, "-o", str(tmp), *srcs, *libdirs, *LIBS],
         f"{CROSS_CC} (slhttpd-host for armhf)")  # fmt: skip
    tmp.replace(out / "slhttpd-host")
    shutil.rmtree(work, ignore_errors=True)
    return files
