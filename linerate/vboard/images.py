"""Build (or find in the cache) everything the virtual board boots."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from linerate.vboard import norimage
from linerate.vboard.guest_kernel import KernelImage, find_kernel
from linerate.vboard.initramfs import build_initramfs

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class BoardImages:
    kernel: KernelImage
    initramfs: Path
    uimage: Path
    env_image: Path
    env_text: str
    pflash: Path
    #: Seconds each step took and whether it came from the cache.
    timings: dict[str, tuple[float, bool]] = field(default_factory=dict)
    #: The QEMU machine these images are for: "virt", or "vexpress" (board/vexpress:
    #: ``pflash`` is NOR bank 1, ``pflash0`` bank 0 with the vendor U-Boot in it).
    machine: str = "virt"
    pflash0: Path | None = None
    #: Why the board's NICs cannot run ndiv although the kernel has it (None: they can).
    no_ndiv_reason: str | None = None


def build_board_images(
    board: str, progress: Progress = _quiet, build_kernel: bool = False
) -> BoardImages:
    """The images of the virtual board named by its profile (virt or vexpress)."""
    if board == "vexpress":
        from linerate.vboard.vexpress import build_vexpress_images

        return build_vexpress_images(progress=progress, build_kernel=build_kernel)
    return build_images(progress=progress, build_kernel=build_kernel)


def build_images(
    kernel: KernelImage | None = None,
    progress: Progress = _quiet,
    env_overrides: dict[str, str] | None = None,
    prefer_debian: bool = False,
    build_kernel: bool = False,
) -> BoardImages:
    timings: dict[str, tuple[float, bool]] = {}

    def step(name: str, fn: Callable[[], tuple[Path, bool]]) -> Path:
        t0 = time.monotonic()
        path, cached = fn()
        dt = time.monotonic() - t0
        timings[name] = (dt, cached)
        how = "cached" if cached else f"built in {dt:.1f} s"
        progress(f"{name}: {how}: {path}")
        return path

    if kernel is None:
        progress("kernel: looking for the project's virt kernel")
        kernel = find_kernel(prefer_debian=prefer_debian, build=build_kernel, progress=progress)
    progress(f"kernel: {kernel.description} ({kernel.zimage})")
    initramfs = step("initramfs", lambda: build_initramfs(kernel))
    uimage = step("uImage", lambda: norimage.build_uimage(kernel.zimage, initramfs))
    text = norimage.env_text(overrides=env_overrides)
    env_image = step("U-Boot environment", lambda: norimage.build_env_image(text))
    pflash = step("pflash", lambda: norimage.build_pflash(env_image, uimage, uimage))
    return BoardImages(kernel, initramfs, uimage, env_image, text, pflash, timings)
