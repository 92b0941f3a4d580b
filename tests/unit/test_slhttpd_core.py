"""The SLHTTPD protocol core: freestanding build, C unit tests, fuzz smoke run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from linerate import ROOT

SLHTTPD = ROOT / "slhttpd"
OUT = SLHTTPD / "out"


def make(*targets: str) -> None:
    subprocess.run(["make", "-s", "-C", str(SLHTTPD), *targets], check=True)


def test_core_builds_freestanding() -> None:
    """Every core file compiles with -ffreestanding -nostdinc: no libc, no kernel headers."""
    make("core-check")
    for src in (SLHTTPD / "core").glob("*.c"):
        text = src.read_text()
        assert "#include <" not in text, f"{src.name} includes a system header"


def test_core_unit_tests_pass_under_sanitizers() -> None:
    make("out/core-tests")
    res = subprocess.run([str(OUT / "core-tests")], capture_output=True, text=True, timeout=600)
    print(res.stdout[-3000:])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    last = res.stdout.strip().splitlines()[-1]
    passed, failed = (int(w) for w in last.replace(",", "").split()[::2][:2])
    assert failed == 0 and passed > 1_000_000, last


@pytest.mark.parametrize("seconds", [20])
def test_fuzz_smoke(tmp_path: Path, seconds: int) -> None:
    """A bounded libFuzzer run from the seed corpus finds no crash, leak or UB."""
    make("out/fuzz-core")
    corpus = tmp_path / "corpus"
    subprocess.run(
        [sys.executable, str(SLHTTPD / "fuzz" / "make_corpus.py"), str(corpus)], check=True
    )
    work = tmp_path / "work"
    work.mkdir()
    res = subprocess.run(
        [
            str(OUT / "fuzz-core"),
            f"-max_total_time={seconds}",
            "-max_len=2000",
            f"-artifact_prefix={tmp_path}/",
            str(work),
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    assert "Done" in res.stderr, res.stderr[-2000:]
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("leak-*"))


def test_core_builds_for_bpf() -> None:
    """The XDP program is the core compiled for BPF (-DSL_BPF, slhttpd/xdp/README.md)."""
    make("out/slhttpd_xdp.o", "out/xdp_pass.o")
    assert (OUT / "slhttpd_xdp.o").stat().st_size > 0


def test_core_passes_the_bpf_verifier(tmp_path: Path) -> None:
    """The kernel's verifier accepts both XDP programs (loaded into a private bpffs, not
    attached anywhere): a core change that breaks verification fails here."""
    if os.geteuid() != 0 or shutil.which("bpftool") is None:
        pytest.skip("needs root and bpftool (scripts/apt-packages.txt)")
    make("out/slhttpd_xdp.o")
    fs = tmp_path / "bpffs"
    fs.mkdir()
    subprocess.run(["mount", "-t", "bpf", "bpf", str(fs)], check=True)
    try:
        res = subprocess.run(
            ["bpftool", "-d", "prog", "loadall", str(OUT / "slhttpd_xdp.o"), str(fs / "p"),
             "type", "xdp"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        processed = [ln for ln in res.stderr.splitlines() if ln.startswith("processed ")]
        print("\n".join(processed))
        assert res.returncode == 0, res.stderr[-4000:]
        assert len(processed) >= 2, res.stderr[-2000:]
    finally:
        subprocess.run(["umount", str(fs)], check=False)
