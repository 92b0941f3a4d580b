"""The virtual board's NOR flash (QEMU pflash1): U-Boot environment and two boot slots.

Facts measured on Debian's qemu_arm U-Boot 2023.01 and QEMU 10 (see
board/virt/NOTES.md): pflash1 is mapped at 0x04000000 (64 MiB file, the size QEMU
requires), U-Boot's CFI driver sees its first 32 MiB as 256 sectors of 128 KiB,
and keeps its environment at 0x04000000, 256 KiB (CONFIG_ENV_ADDR/SIZE, no
redundant copy). The two uImage slots sit inside what U-Boot can reach.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from linerate import ROOT
from linerate.errors import LinerateError
from linerate.vboard.cache import InputKey, cached_file

FLASH_BASE = 0x04000000
FLASH_FILE_SIZE = 64 << 20
UBOOT_VISIBLE = 32 << 20
SECTOR = 128 << 10
ENV_OFFSET = 0x0
ENV_SIZE = 0x40000
SLOT_SIZE = 0x00F00000


@dataclass(frozen=True)
class Slot:
    name: str
    offset: int
    size: int = SLOT_SIZE

    @property
    def address(self) -> int:
        return FLASH_BASE + self.offset


SLOT_A = Slot("uimage-a", 0x00100000)
SLOT_B = Slot("uimage-b", 0x01100000)
#: Physical load/entry address of the zImage (virt RAM starts at 0x40000000).
LOAD_ADDR = 0x40008000
ENV_TEMPLATE = ROOT / "board" / "virt" / "uboot-env.txt"


def run_tool(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except FileNotFoundError as exc:
        raise LinerateError(f"{what}: {cmd[0]} not found: install u-boot-tools") from exc
    if proc.returncode != 0:
        raise LinerateError(f"{what} failed: {' '.join(cmd)}: {proc.stderr.strip()}")


def env_text(template: Path = ENV_TEMPLATE, overrides: dict[str, str] | None = None) -> str:
    """The environment as ``name=value`` lines (comments dropped, overrides applied)."""
    env: dict[str, str] = {}
    for line in template.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise LinerateError(f"{template}: line {line!r} is not name=value")
        env[name.strip()] = value
    env.update(overrides or {})
    return "".join(f"{k}={v}\n" for k, v in env.items())


def build_env_image(text: str) -> tuple[Path, bool]:
    key = InputKey("uboot-env-v1").add("env", text).add("size", str(ENV_SIZE))

    def build(out: Path) -> None:
        src = out.with_suffix(".txt")
        src.write_text(text)
        try:
            run_tool(["mkenvimage", "-s", hex(ENV_SIZE), "-o", str(out), str(src)], "mkenvimage")
        finally:
            src.unlink(missing_ok=True)

    return cached_file("uboot-env", key.hexdigest(), "env.bin", build)


def mkimage_multi(kernel: Path, initramfs: Path, out: Path, load: int, name: str) -> None:
    """``mkimage -T multi``: image 0 the kernel (a zImage, with a DTB appended or not),
    image 1 the initramfs, both loaded and entered at ``load`` (as the boards' images)."""
    run_tool(
        [
            *("mkimage", "-A", "arm", "-O", "linux", "-T", "multi", "-C", "none"),
            *("-a", hex(load), "-e", hex(load), "-n", name),
            *("-d", f"{kernel}:{initramfs}", str(out)),
        ],
        "mkimage",
    )


def build_uimage(zimage: Path, initramfs: Path) -> tuple[Path, bool]:
    """A legacy multi-file uImage: image 0 the zImage, image 1 the initramfs."""
    key = InputKey("uimage-v1").add_file("zimage", zimage).add_file("initramfs", initramfs)

    def build(out: Path) -> None:
        mkimage_multi(zimage, initramfs, out, LOAD_ADDR, "linerate vboard")
        if out.stat().st_size > SLOT_SIZE:
            raise LinerateError(
                f"uImage is {out.stat().st_size} bytes, over the {SLOT_SIZE:#x} flash slot: "
                "shrink the kernel or the initramfs"
            )

    return cached_file("uimage", key.hexdigest(), "uImage", build)


def build_pflash(
    env_image: Path, slot_a: Path | None, slot_b: Path | None = None
) -> tuple[Path, bool]:
    """The 64 MiB pflash1 image: erased (0xff) flash with the env and the slots written."""
    key = InputKey("pflash-v1").add_file("env", env_image)
    if slot_a is not None:
        key.add_file("a", slot_a)
    if slot_b is not None:
        key.add_file("b", slot_b)

    def build(out: Path) -> None:
        image = bytearray(b"\xff" * FLASH_FILE_SIZE)
        env = env_image.read_bytes()
        if len(env) != ENV_SIZE:
            raise LinerateError(f"environment image is {len(env)} bytes, expected {ENV_SIZE}")
        image[ENV_OFFSET : ENV_OFFSET + ENV_SIZE] = env
        for slot, path in ((SLOT_A, slot_a), (SLOT_B, slot_b)):
            if path is None:
                continue
            data = path.read_bytes()
            if len(data) > slot.size:
                raise LinerateError(f"{path} does not fit in {slot.name} ({slot.size:#x})")
            image[slot.offset : slot.offset + len(data)] = data
        out.write_bytes(image)

    return cached_file("pflash", key.hexdigest(), "pflash1.img", build)
