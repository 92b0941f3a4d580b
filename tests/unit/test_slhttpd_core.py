"""The SLHTTPD protocol core: freestanding build, C unit tests, fuzz smoke run."""

from __future__ import annotations

import os
import re
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


def _verify(obj: str) -> tuple[list[int], str]:
    """out/bpf-verify on out/OBJ (it must accept it): the verifier's processed instructions
    of each program, and its output."""
    res = subprocess.run(
        [str(OUT / "bpf-verify"), str(OUT / obj)], capture_output=True, text=True, timeout=300
    )
    print(res.stdout)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return [int(m) for m in re.findall(r"^processed (\d+) insns", res.stdout, re.M)], res.stdout


def test_core_passes_the_bpf_verifier() -> None:
    """The kernel's verifier accepts both XDP programs (out/bpf-verify loads them, attached
    nowhere, and prints the verifier's statistics): a core change that breaks verification
    fails here, and so does one that takes slhttpd_xdp past 3/4 of the limit of 1,000,000
    processed instructions (xdp/README.md has the numbers)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    make("out/slhttpd_xdp.o", "out/bpf-verify")
    processed, out = _verify("slhttpd_xdp.o")
    assert len(processed) == 2, out
    assert max(processed) < 750_000, out


def test_core_without_parser_has_no_bpf_to_bpf_call() -> None:
    """slhttpd_xdp_noparse.o (-DSL_BPF_NO_PARSER, the virtual board's guest) verifies and has
    no bpf-to-bpf call or callback (``call -N`` / ``ld_imm64`` of a function, as bpf_loop()'s
    callback): the 32-bit ARM JIT has none, and the kernel refuses a tail call beside one
    (xdp/README.md "On the virtual board"). The full object has the parser's callback."""
    make("out/slhttpd_xdp_noparse.o", "out/slhttpd_xdp.o", "out/bpf-verify")

    def subprograms(obj: str) -> int:
        dump = subprocess.run(
            ["llvm-objdump", "-d", "-r", str(OUT / obj)], capture_output=True, text=True,
            check=True, timeout=120,
        ).stdout  # fmt: skip
        # bpf-to-bpf calls are "call -N" (pc-relative); a callback's address is a 64-bit
        # load relocated against .text, where the subprograms are (maps: their symbols).
        calls = re.findall(r"\bcall -\d+", dump)
        funcs = re.findall(r"R_BPF_64_64\s+\.text\b", dump)
        return len(calls) + len(funcs)

    assert subprograms("slhttpd_xdp_noparse.o") == 0
    assert subprograms("slhttpd_xdp.o") > 0
    if os.geteuid() != 0:
        return
    processed, out = _verify("slhttpd_xdp_noparse.o")
    assert len(processed) == 2 and max(processed) < 750_000, out
