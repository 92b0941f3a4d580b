"""Board tests: options, fixtures and failure reports come from linerate.pytest_plugin.

Run: pytest tests/board [--board NAME] [--port DEV] -p no:cacheprovider
(without --port: the virtual board). Options are added here because this
conftest is loaded when tests/board is on the command line.
"""

from __future__ import annotations

from linerate import pytest_plugin as _plugin
from linerate.pytest_plugin import (  # noqa: F401 - fixtures used by the tests
    at_shell,
    at_uboot,
    board,
    board_profile,
    console_log,
    ndiv_kernel,
)

pytest_addoption = _plugin.pytest_addoption
pytest_runtest_makereport = _plugin.pytest_runtest_makereport
