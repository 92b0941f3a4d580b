"""`ab -k` (ApacheBench) and `h2load --h1` against slhttpd-host: every request answered."""

from __future__ import annotations

import re
import shutil

import pytest
from hostenv import HostEnv


def _need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"`{tool}` missing: apt-get install {package} (scripts/apt-packages.txt)")


@pytest.mark.parametrize("keepalive", [True, False])
def test_ab(env: HostEnv, keepalive: bool) -> None:
    _need("ab", "apache2-utils")
    n = 2000
    before = env.stats()
    argv = ["ab", *(["-k"] if keepalive else []), "-q", "-n", str(n), "-c", "8", env.url("/1k")]
    r = env.client(argv, timeout=60)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert re.search(rf"Complete requests:\s+{n}\b", out), out
    assert re.search(r"Failed requests:\s+0\b", out), out
    assert "Non-2xx" not in out, out
    if keepalive:
        m = re.search(r"Keep-Alive requests:\s+(\d+)", out)
        assert m and int(m.group(1)) >= n - 8, out
    after = env.stats()
    served = sum(after[k] - before[k] for k in ("req_close", "req_keepalive"))
    assert served == n, (served, out)


def test_h2load_h1(env: HostEnv) -> None:
    _need("h2load", "nghttp2-client")
    n = 2000
    r = env.client(["h2load", "--h1", "-n", str(n), "-c", "8", "-m", "1", env.url("/4000")],
                   timeout=60)  # fmt: skip
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed",
                  out)  # fmt: skip
    assert m, out
    assert (int(m.group(2)), int(m.group(3)), int(m.group(4))) == (n, n, 0), out
    assert re.search(rf"status codes: {n} 2xx", out), out
