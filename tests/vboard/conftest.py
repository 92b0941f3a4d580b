"""Virtual board fixtures: images built once per session, a board booted once per module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from linerate import ROOT
from linerate.board.strategy import State
from linerate.board.target import VirtualTarget
from linerate.vboard.images import BoardImages, build_images

ARTIFACTS = ROOT / "artifacts" / "vboard"


def transcript_path(name: str) -> Path:
    path = ARTIFACTS / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


@pytest.fixture(scope="session")
def vboard_images() -> BoardImages:
    if shutil.which("qemu-system-arm") is None:
        pytest.fail(
            "qemu-system-arm is missing: run scripts/apt-backports.sh qemu-system-arm "
            "(and scripts/apt-armhf.sh) as root"
        )
    return build_images(progress=lambda msg: print(f"vboard: {msg}"), build_kernel=True)


@pytest.fixture(scope="module")
def vboard(vboard_images: BoardImages, request: pytest.FixtureRequest) -> Iterator[VirtualTarget]:
    """A board booted through U-Boot to its shell, shared by the tests of one module."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    with VirtualTarget(
        images=vboard_images, transcript=transcript_path(name), boot_to=State.SHELL
    ) as target:
        yield target


# Session scope: a skip here comes before the module's board boots (wider scopes first).
@pytest.fixture(scope="session")
def ndiv_kernel(vboard_images: BoardImages) -> None:
    if not vboard_images.kernel.has_ndiv:
        pytest.skip(
            "needs the project's ndiv kernel (linerate kernel --target virt); "
            f"the board runs {vboard_images.kernel.description}"
        )


@pytest.fixture(scope="session")
def slhttpd_module(vboard_images: BoardImages, ndiv_kernel: None) -> None:
    if not any(name == "slhttpd" for name, _ in vboard_images.kernel.extra):
        pytest.skip("needs slhttpd.ko built against the ndiv kernel (make -C slhttpd/kernel)")


@pytest.fixture
def transcript():
    """``transcript(name)``: a fresh transcript path under artifacts/vboard/."""
    return transcript_path
