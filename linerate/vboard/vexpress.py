"""The vendor-era virtual board: QEMU vexpress-a9 with U-Boot v2011.12 in NOR.

What it catches that ``virt`` (U-Boot 2023.01) hides: ATAG boot, an initrd left
where the image lies (``bootm`` in place from NOR loses it), no hush in the stock
build. Measured facts are in board/vexpress/NOTES.md. The flash is two 64 MiB CFI
banks: bank 0 (0x40000000, also aliased at 0: the reset vector) holds U-Boot in its
first sector; bank 1 (0x44000000) the two uImage slots and, at 0x47f80000, the
environment: two copies of 256 KiB in the last two sectors, redundant as on the
OpenBlocks AX3 (patch 0005).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.kernel.build import VEXPRESS_DTB, build_target, find_build
from linerate.vboard import norimage
from linerate.vboard.cache import InputKey, cached_file
from linerate.vboard.guest_kernel import KernelImage
from linerate.vboard.images import BoardImages
from linerate.vboard.initramfs import build_initramfs
from linerate.vboard.launcher import VirtualBoard
from linerate.vboard.vendor_uboot import build_uboot

BANK_SIZE = 64 << 20
ENV_OFFSET = 0x03F80000
ENV_SIZE = 0x40000
#: The redundant copy (CONFIG_ENV_ADDR_REDUND): the last sector of bank 1.
ENV_REDUND_OFFSET = ENV_OFFSET + ENV_SIZE
SLOT_OFFSETS = (0x00100000, 0x01100000)
SLOT_SIZE = 0x00F00000
#: Kernel load/entry: RAM (0x60000000) + 32 KiB; ATAGs at 0x60000100.
LOAD_ADDR = 0x60008000
ENV_TEMPLATE = ROOT / "board" / "vexpress" / "uboot-env.txt"
#: QEMU's LAN9118 MAC: the one in the environment (smsc911x has no MAC patch; U-Boot
#: 2011.12 writes ethaddr into the chip only when it uses the network).
NIC_MAC = "02:4c:52:00:00:01"
NO_NDIV = "the vexpress board's NIC (smsc911x) has no ndiv receive hook"

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def vexpress_kernel(build: bool = False, progress: Progress = _quiet) -> tuple[KernelImage, Path]:
    """The project's virt kernel and the vexpress DTB built with it."""
    found = find_build("virt")
    if (found is None or VEXPRESS_DTB not in str(found.manifest.get("vexpress_dtb"))) and build:
        progress("kernel: linerate kernel --target virt (minutes when cold)")
        found = build_target("virt")
    if found is None or found.zimage is None or not found.zimage.is_file():
        raise LinerateError(
            "the vexpress board boots the project's kernel: build it with "
            "linerate kernel --target virt"
        )
    dtb = Path(str(found.manifest.get("vexpress_dtb", "")))
    if not dtb.is_file():
        raise LinerateError(
            f"the virt kernel build {found.outdir} has no {VEXPRESS_DTB}: rebuild it with "
            "linerate kernel --target virt"
        )
    slhttpd = found.module if found.module is not None and found.module.is_file() else None
    kernel = KernelImage(
        zimage=found.zimage,
        kind="ndiv",
        description=f"project kernel {found.release} ({found.outdir}) with {VEXPRESS_DTB}",
        extra=(("slhttpd", slhttpd),) if slhttpd is not None else (),
    )
    return kernel, dtb


def build_uimage(zimage: Path, dtb: Path, initramfs: Path) -> tuple[Path, bool]:
    """Multi-file uImage: image 0 the zImage with the DTB appended, image 1 the initramfs."""
    key = (
        InputKey("vexpress-uimage-v1")
        .add_file("zimage", zimage)
        .add_file("dtb", dtb)
        .add_file("initramfs", initramfs)
    )

    def build(out: Path) -> None:
        appended = out.with_suffix(".zimage-dtb")
        appended.write_bytes(zimage.read_bytes() + dtb.read_bytes())
        try:
            norimage.mkimage_multi(appended, initramfs, out, LOAD_ADDR, "linerate vexpress")
        finally:
            appended.unlink(missing_ok=True)
        if out.stat().st_size > SLOT_SIZE:
            raise LinerateError(
                f"uImage is {out.stat().st_size} bytes, over the {SLOT_SIZE:#x} slot"
            )

    return cached_file("vexpress-uimage", key.hexdigest(), "uImage", build)


def build_env_image(text: str) -> tuple[Path, bool]:
    """One redundant copy (flag byte 1: active) of the environment."""
    key = InputKey("vexpress-env-v2").add("env", text).add("size", str(ENV_SIZE))

    def build(out: Path) -> None:
        src = out.with_suffix(".txt")
        src.write_text(text)
        try:
            norimage.run_tool(
                ["mkenvimage", "-r", "-s", hex(ENV_SIZE), "-o", str(out), str(src)],
                "mkenvimage",
            )
        finally:
            src.unlink(missing_ok=True)

    return cached_file("vexpress-env", key.hexdigest(), "env.bin", build)


def build_bank0(uboot_bin: Path) -> tuple[Path, bool]:
    """NOR bank 0: U-Boot at offset 0 (its first sector), the rest erased."""
    key = InputKey("vexpress-nor0-v1").add_file("uboot", uboot_bin)

    def build(out: Path) -> None:
        image = bytearray(b"\xff" * BANK_SIZE)
        data = uboot_bin.read_bytes()
        image[: len(data)] = data
        out.write_bytes(image)

    return cached_file("vexpress-nor0", key.hexdigest(), "nor0.img", build)


def build_bank1(env_image: Path, uimage: Path) -> tuple[Path, bool]:
    """NOR bank 1: the image in both slots, the environment at 0x03f80000 (active) and
    0x03fc0000 (the same data, flag 0: obsolete), as after two saveenv."""
    key = InputKey("vexpress-nor1-v2").add_file("env", env_image).add_file("uimage", uimage)

    def build(out: Path) -> None:
        image = bytearray(b"\xff" * BANK_SIZE)
        env = env_image.read_bytes()
        if len(env) != ENV_SIZE:
            raise LinerateError(f"environment image is {len(env)} bytes, expected {ENV_SIZE}")
        image[ENV_OFFSET : ENV_OFFSET + ENV_SIZE] = env
        obsolete = bytearray(env)
        obsolete[4] = 0
        image[ENV_REDUND_OFFSET : ENV_REDUND_OFFSET + ENV_SIZE] = obsolete
        data = uimage.read_bytes()
        for offset in SLOT_OFFSETS:
            image[offset : offset + len(data)] = data
        out.write_bytes(image)

    return cached_file("vexpress-nor1", key.hexdigest(), "nor1.img", build)


def build_vexpress_images(
    parser: str = "nohush",
    progress: Progress = _quiet,
    build_kernel: bool = False,
    env_overrides: dict[str, str] | None = None,
) -> BoardImages:
    """Everything the vexpress board boots; U-Boot with the stock parser by default."""
    timings: dict[str, tuple[float, bool]] = {}

    def step(name: str, fn: Callable[[], tuple[Path, bool]]) -> Path:
        t0 = time.monotonic()
        path, cached = fn()
        timings[name] = (time.monotonic() - t0, cached)
        progress(f"{name}: {'cached' if cached else 'built'}: {path}")
        return path

    def uboot() -> tuple[Path, bool]:
        built = build_uboot(parser)
        return built.binary, built.cached

    uboot_bin = step(f"U-Boot v2011.12 ({parser})", uboot)
    kernel, dtb = vexpress_kernel(build=build_kernel, progress=progress)
    initramfs = step("initramfs", lambda: build_initramfs(kernel))
    uimage = step("uImage", lambda: build_uimage(kernel.zimage, dtb, initramfs))
    text = norimage.env_text(ENV_TEMPLATE, env_overrides)
    env_image = step("U-Boot environment", lambda: build_env_image(text))
    nor0 = step("NOR bank 0", lambda: build_bank0(uboot_bin))
    nor1 = step("NOR bank 1", lambda: build_bank1(env_image, uimage))
    return BoardImages(
        kernel,
        initramfs,
        uimage,
        env_image,
        text,
        nor1,
        timings,
        machine="vexpress",
        pflash0=nor0,
        no_ndiv_reason=NO_NDIV,
    )


class VexpressBoard(VirtualBoard):
    """QEMU vexpress-a9, 1 GiB, U-Boot running from NOR bank 0, LAN9118 on user
    networking (the console, QMP and the paused start as :class:`VirtualBoard`)."""

    def __init__(
        self, images: BoardImages, run_dir: Path | None = None, http_port: int | None = None
    ) -> None:
        super().__init__(
            images, run_dir=run_dir, http_port=http_port, frame_link=False, memory_mb=1024
        )

    @property
    def pflash0(self) -> Path:
        return self.run_dir / "nor0.img"

    @property
    def pflash(self) -> Path:
        return self.run_dir / "nor1.img"

    def prepare_flash(self) -> None:
        import shutil

        if self.images.pflash0 is None:
            raise LinerateError("vexpress images without NOR bank 0 (U-Boot)")
        shutil.copyfile(self.images.pflash0, self.pflash0)
        shutil.copyfile(self.images.pflash, self.pflash)

    def check_firmware(self) -> None:
        if self.direct_kernel:
            raise LinerateError("the vexpress board always boots through its U-Boot")

    def command(self) -> list[str]:
        hostfwd = self.hostfwd()
        return [
            self.qemu,
            "-M",
            "vexpress-a9",
            "-m",
            str(self.memory_mb),
            "-audio",
            "none",
            *self.control_args(),
            "-drive",
            f"if=pflash,unit=0,format=raw,file={self.pflash0}",
            "-drive",
            f"if=pflash,unit=1,format=raw,file={self.pflash}",
            "-nic",
            f"user,model=lan9118,mac={NIC_MAC},net=10.0.2.0/24,{hostfwd}",
            "-S",
        ]
