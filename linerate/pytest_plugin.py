"""pytest plugin for the board tests: ``--board NAME`` (default virt), ``--port DEV``.

Registered as a plugin (the ``pytest11`` entry point in pyproject.toml), so the
options work from any test path (``pytest tests -m board --board mirabox``).
Without ``--port`` the virtual board is started (and skipped, with the reason,
if QEMU or its U-Boot is missing). Every test that uses the board gets its own
console transcript in ``artifacts/<test>/console.log``; when it fails, the end of
its transcript is in the failure report, on the terminal and in the JUnit XML.

``$LINERATE_ARTIFACTS`` moves ``artifacts/``. Fixtures: ``board_profile``;
``board`` (a started :class:`Target`, one per session); ``board_lab`` (the unit's
survey: ``--lab FILE``, else surveyed at the start of the session); ``console_log`` (this
test's transcript path); ``at_uboot`` (the board at U-Boot's prompt: its
:class:`BoardStrategy`); ``at_shell`` (the board at a shell); ``ndiv_kernel``
(skips unless the board runs the project's kernel).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from linerate import ROOT
from linerate.board.profile import Profile, ProfileError, load_profile
from linerate.board.strategy import BoardStrategy
from linerate.board.target import SerialTarget, Target, VirtualTarget
from linerate.errors import LinerateError
from linerate.survey.lab import Lab, load_lab
from linerate.survey.survey import Surveyor


def artifacts_dir() -> Path:
    """Where transcripts go: ``$LINERATE_ARTIFACTS``, else ``artifacts/`` in the project."""
    return Path(os.environ.get("LINERATE_ARTIFACTS") or ROOT / "artifacts")


_TRANSCRIPT_KEY = pytest.StashKey[Path]()
_TAIL_LINES = 60


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("linerate board", "board tests (tests/board)")
    group.addoption(
        "--board",
        default="virt",
        help="board profile from board/<NAME>/board.yml (default: virt)",
    )
    group.addoption(
        "--port",
        default=None,
        help="console of a real board: /dev/ttyUSB0, rfc2217://HOST:PORT, socket://HOST:PORT "
        "(default: start the virtual board)",
    )
    group.addoption(
        "--vboard-console",
        default="pty",
        choices=("pty", "socket", "rfc2217"),
        help="the virtual board's console: QEMU's pty, or served by ser2net over TCP "
        "(socket://, rfc2217://) as a lab serves a real board's",
    )
    group.addoption(
        "--lab",
        default=None,
        help="the unit's lab file from linerate survey (default: survey the board first, "
        "into artifacts/lab/<board>.yml)",
    )
    group.addoption(
        "--reboots",
        type=int,
        default=10,
        help="reboots in a row for test_05_reboot (default: 10; make test's second pass, "
        "through ser2net, checks the transport and needs fewer)",
    )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120]


def test_dir(item: pytest.Item) -> Path:
    """``artifacts/<test>/`` for one test (its node name, made a safe file name)."""
    return artifacts_dir() / _safe(item.name)


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def board_profile(pytestconfig: pytest.Config) -> Profile:
    name = pytestconfig.getoption("--board") or "virt"
    try:
        return load_profile(name)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from exc


def _virtual_unavailable(profile: Profile) -> str | None:
    from linerate.vboard.launcher import QEMU, UBOOT_BIN

    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed (scripts/apt-backports.sh qemu-system-arm)"
    # vexpress brings its own U-Boot (built from source: a missing source skips below).
    if profile.name != "vexpress" and not UBOOT_BIN.is_file():
        return f"{UBOOT_BIN} is missing (apt-get install u-boot-qemu)"
    return None


@pytest.fixture(scope="session")
def board(board_profile: Profile, pytestconfig: pytest.Config) -> Iterator[Target]:
    """The board under test, started once for the session (a virtual one without --port)."""
    port = pytestconfig.getoption("--port")
    session_log = artifacts_dir() / "board-session.log"
    target: Target
    if port:
        target = SerialTarget(board_profile, port, transcript=session_log)
    elif board_profile.virtual:
        reason = _virtual_unavailable(board_profile)
        if reason:
            pytest.skip(f"no --port and no virtual board: {reason}")
        try:
            from linerate.vboard.images import build_board_images

            images = build_board_images(board_profile.name)
        except LinerateError as exc:
            pytest.skip(f"no --port and the virtual board's images cannot be built: {exc}")
        target = VirtualTarget(
            board_profile,
            transcript=session_log,
            images=images,
            console=pytestconfig.getoption("--vboard-console"),
        )
    else:
        pytest.skip(f"board {board_profile.name} is real hardware: run with --port DEV")
    target.start()
    try:
        yield target
    finally:
        target.close()


@pytest.fixture(autouse=True)
def _board_console_log(request: pytest.FixtureRequest) -> None:
    """Every test that uses the board records its console (no effect on other tests)."""
    if _uses_board(request):
        request.getfixturevalue("console_log")


def _uses_board(request: pytest.FixtureRequest) -> bool:
    """The test uses this plugin's ``board`` fixture (not a parameter named board)."""
    callspec = getattr(request.node, "callspec", None)
    parametrized = callspec is not None and "board" in callspec.params
    return "board" in request.fixturenames and not parametrized


@pytest.fixture
def console_log(request: pytest.FixtureRequest) -> Iterator[Path]:
    """This test's transcript: ``artifacts/<test>/console.log`` (the board's console)."""
    path = test_dir(request.node) / "console.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    request.node.stash[_TRANSCRIPT_KEY] = path
    target: Target | None = None
    if _uses_board(request):
        target = request.getfixturevalue("board")
        target.retarget_transcript(path)
    yield path
    if target is not None and getattr(target, "port", None) is not None:
        target.port.transcript.flush()


@pytest.fixture(scope="session")
def board_lab(board: Target, pytestconfig: pytest.Config) -> Lab:
    """This unit's lab file: ``--lab``, else a survey of the board now (read-only: it
    boots the board's Linux to read its flash partitions), saved under artifacts/lab/."""
    given = pytestconfig.getoption("--lab")
    if given:
        return load_lab(Path(given))
    port = pytestconfig.getoption("--port") or "virtual"
    lab = Surveyor(board.strategy, port).survey(linux=True)
    lab.save(artifacts_dir() / "lab" / f"{board.profile.name}.yml")  # sets lab.path
    return lab


@pytest.fixture
def at_uboot(board: Target) -> BoardStrategy:
    """The board at U-Boot's prompt."""
    board.strategy.to_uboot()
    return board.strategy


@pytest.fixture
def at_shell(board: Target) -> BoardStrategy:
    """The board at a Linux shell (booted through U-Boot if it was not)."""
    board.strategy.ensure_shell()
    return board.strategy


@pytest.fixture
def ndiv_kernel(board: Target) -> None:
    if board.has_ndiv is False:
        pytest.skip(
            "needs the project's ndiv kernel (linerate kernel --target virt); the board runs "
            f"{board.kernel_description}"
        )


# -- the transcript in failure reports -----------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    if report.passed or report.skipped:
        return
    path = item.stash.get(_TRANSCRIPT_KEY, None)
    if path is None or not path.is_file():
        return
    text = path.read_text(errors="replace").replace("\r", "").replace("\x1b[6n", "")
    lines = text.rstrip("\n").split("\n")
    tail = "\n".join(lines[-_TAIL_LINES:])
    title = f"console transcript ({path}, last {min(len(lines), _TAIL_LINES)} lines)"
    longrepr = report.longrepr
    if hasattr(longrepr, "addsection"):
        # Part of the failure itself: the terminal report and the JUnit XML's <failure>.
        longrepr.addsection(title, tail)
    else:
        report.sections.append((title, tail))
