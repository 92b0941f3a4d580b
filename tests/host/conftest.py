"""Host tier: slhttpd-host (ASan+UBSan) in network namespaces, real clients, crafted frames."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence

import pytest
from hostenv import HostEnv, sweep_stale

from linerate.host import netns
from linerate.host.frontend import MODES

#: Frontend modes the host tier runs in (all by default): LINERATE_HOST_MODES=xdp for one.
HOST_MODES = [m for m in os.environ.get("LINERATE_HOST_MODES", ",".join(MODES)).split(",") if m]


def _require_host() -> None:
    if not netns.has_capabilities(netns.CAP_NET_ADMIN, netns.CAP_SYS_ADMIN, netns.CAP_NET_RAW):
        pytest.fail("host tests need root (network namespaces, veth, AF_PACKET): run as root")
    for tool in ("ip", "ethtool", "iptables", "curl", "wrk", "make"):
        if shutil.which(tool) is None:
            pytest.fail(f"`{tool}` missing: install scripts/apt-packages.txt (make deps)")
    sweep_stale()


def _finish(env: HostEnv) -> None:
    problems = env.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session", params=HOST_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """slhttpd-host --mode: every host test runs against each frontend."""
    return str(request.param)


@pytest.fixture(scope="session")
def env(mode: str) -> Iterator[HostEnv]:
    """The shared server: default options, ports 80,8000-8999."""
    _require_host()
    e = HostEnv(mode=mode)
    yield e
    _finish(e)


@pytest.fixture
def make_env(mode: str) -> Iterator[Callable[[Sequence[str]], HostEnv]]:
    """A private server with extra frontend options (its own namespaces; ``queues``: RX and
    TX queues of its veth)."""
    _require_host()
    made: list[HostEnv] = []

    def make(extra: Sequence[str], queues: int = 1) -> HostEnv:
        e = HostEnv(extra=extra, mode=mode, queues=queues)
        made.append(e)
        return e

    yield make
    problems = [p for e in made for p in e.close()]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
