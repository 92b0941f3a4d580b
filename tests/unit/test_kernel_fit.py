"""`linerate kernel --target boards` refuses a uImage larger than the board's kernel partition."""

from __future__ import annotations

from pathlib import Path

import pytest

from linerate.errors import LinerateError
from linerate.kernel.build import check_fits


def sized(tmp_path: Path, size: int) -> Path:
    p = tmp_path / "uImage-test"
    with p.open("wb") as f:
        f.truncate(size)
    return p


def test_mirabox_kernel_partition_is_4_mib(tmp_path: Path) -> None:
    check_fits("armada-370-mirabox", sized(tmp_path, 4 * 1024 * 1024))
    with pytest.raises(LinerateError, match="4194304-byte kernel partition of mirabox"):
        check_fits("armada-370-mirabox", sized(tmp_path, 4 * 1024 * 1024 + 1))


def test_ax3_kernel_fits_its_nor_slot(tmp_path: Path) -> None:
    check_fits("armada-xp-openblocks-ax3-4", sized(tmp_path, 12 * 1024 * 1024))
    with pytest.raises(LinerateError, match="uimage-a partition of openblocks-ax3"):
        check_fits("armada-xp-openblocks-ax3-4", sized(tmp_path, 17 * 1024 * 1024))
