"""The vendor-era board (QEMU vexpress-a9, U-Boot v2011.12 in NOR): what ``virt`` hides.

Here, not in tests/board: these tests are about this machine and its U-Boot (they
build it and start it with the hush and the stock parser), not about a board the
suite is pointed at with ``--board``/``--port``; on a real board ``bootm`` in place
would be a deliberate kernel panic on the unit.

* U-Boot 2011.12 boots Linux with ATAGs and hands it the initrd where the image lies:
  ``bootm <NOR slot>`` in place makes Linux drop the initrd and panic; the same image
  copied to RAM (``run boot_<slot>``, what the flasher installs) boots to the shell.
* The survey tells the stock parser (no hush) from the hush build.
"""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Iterator

import pytest
from conftest import transcript_path

from linerate.board.profile import Profile, load_profile
from linerate.board.strategy import State
from linerate.board.target import VirtualTarget
from linerate.console.patterns import KERNEL_PANIC, UBOOT_SIGNON
from linerate.errors import LinerateError
from linerate.flash.progress import Progress
from linerate.flash.ram import RamLoader
from linerate.survey.survey import Surveyor
from linerate.vboard.images import BoardImages


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile("vexpress")


def _images(parser: str) -> BoardImages:
    from linerate.vboard.launcher import QEMU
    from linerate.vboard.vexpress import build_vexpress_images

    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (scripts/apt-backports.sh qemu-system-arm)")
    try:
        return build_vexpress_images(parser=parser, build_kernel=True)
    except LinerateError as exc:
        pytest.skip(f"the vexpress board cannot be built: {exc}")


@pytest.fixture(scope="module")
def stock(profile: Profile) -> Iterator[VirtualTarget]:
    """The board with the stock parser, at U-Boot's prompt."""
    with VirtualTarget(
        profile,
        images=_images("nohush"),
        transcript=transcript_path("vexpress-stock"),
        boot_to=State.UBOOT,
    ) as target:
        yield target


def test_the_survey_finds_no_hush_in_the_stock_build(stock: VirtualTarget) -> None:
    lab = Surveyor(stock.strategy, "virtual", say=print).survey()
    assert lab.banner.startswith("U-Boot 2011.12"), lab.banner
    assert lab.hush is False
    assert "bootm" in lab.commands and "if" not in lab.commands


def test_bootm_in_place_from_nor_loses_the_initrd_the_ram_copy_boots(
    stock: VirtualTarget, profile: Profile
) -> None:
    nor = profile.flash.nor
    assert nor is not None
    control = stock.strategy
    control.to_uboot()
    ub = control.uboot
    ub.hush = False
    image = stock.nor_image()
    data = image.read_bytes()
    slot = nor.slot("b")
    address = nor.address(slot)
    # Write the project's image into slot B: erased first, so what boots is what we wrote.
    assert "Erased" in ub.send_command(f"erase {address:#x} +{slot.size:#x}", timeout=120.0)
    assert ub.crc32(address, len(data)) != zlib.crc32(data)
    loaded = RamLoader(ub, profile, Progress(tty=False)).load(image, profile.uboot.load_address)
    out = ub.send_command(f"cp.b {loaded.address:#x} {address:#x} {len(data):#x}", timeout=120.0)
    assert "done" in out, out
    assert ub.crc32(address, len(data)) == zlib.crc32(data)

    # In place: U-Boot passes the initrd's NOR address (ATAG_INITRD2); Linux drops it.
    ub.send_command("run set_bootargs")
    with stock.port.allow(KERNEL_PANIC):
        ub.boot(f"bootm {address:#x}")
        stock.port.expect(r"not a memory region - disabling initrd", timeout=120.0)
        # Without its initramfs the kernel has no root: this panic, nothing else.
        stock.port.expect(
            r"Kernel panic - not syncing: VFS: Unable to mount root fs", timeout=120.0
        )
        # The panic report ends with a "---[ end Kernel panic ... ]---" line: read it here,
        # where the panic is expected, not in whatever expects the console next.
        stock.port.expect(r"end Kernel panic[^\r\n]*\]---", timeout=60.0)

    # The same slot copied to RAM first (the boot_b the environment holds) boots. The
    # panic above is still the last thing the console showed before this reset.
    with stock.port.allow(UBOOT_SIGNON, KERNEL_PANIC):
        control.power_cycle()
        control.uboot_log = ub.stop_autoboot(timeout=60.0)
    log = control.boot("run boot_b", timeout=180.0)
    assert "Booting slot B" in log
    assert f"Legacy Image at {profile.uboot.load_address:08x}" in log, log[-2000:]
    assert "not a memory region" not in log
    assert "Unpacking initramfs" in log or "Trying to unpack rootfs" in log
    assert control.shell.check("echo booted-from-ram") == "booted-from-ram"


def test_the_survey_finds_hush_in_the_hush_build(profile: Profile) -> None:
    with VirtualTarget(
        profile,
        images=_images("hush"),
        transcript=transcript_path("vexpress-hush"),
        boot_to=State.UBOOT,
    ) as target:
        lab = Surveyor(target.strategy, "virtual", say=print).survey()
        assert lab.banner.startswith("U-Boot 2011.12"), lab.banner
        assert lab.hush is True
        # The hush build runs the flasher's bootcmd as the profile gives it.
        assert target.strategy.uboot.check("test b = b") == ""
