"""One flash, whatever the medium: pick the strategy, bring the board where it needs to be.

NOR and NAND are written from U-Boot's prompt; the SSD from the running
appliance's shell; a UBI partition that this unit's U-Boot cannot write well
(no ``nand write.trimffs``) from a rescue initramfs booted from RAM. ``flash``
returns the strategy's result; failures raise :class:`FlashError` saying what the
board boots now and how to resume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from linerate.board.profile import Profile, Tftp
from linerate.board.strategy import BoardStrategy
from linerate.flash.errors import FlashError
from linerate.flash.guard import SurveyedNor, require_lab
from linerate.flash.nand import MEDIA as NAND_MEDIA
from linerate.flash.nand import NandFlasher, NandResult, check_surveyed, ubi_from_linux
from linerate.flash.nor import UIMAGE_MAGIC, NorFlasher, NorResult
from linerate.flash.progress import Progress
from linerate.flash.ram import Loaded, RamLoader
from linerate.flash.ssd import SsdFlasher, SsdResult
from linerate.flash.ubi import UbiFromLinux, UbiResult, rescue_images
from linerate.survey.lab import Lab

MEDIA = ("nor", *NAND_MEDIA, "ssd")
Result = NorResult | NandResult | SsdResult | UbiResult


def default_medium(profile: Profile) -> str:
    if profile.flash.nor is not None:
        return "nor"
    if profile.flash.nand is not None:
        return "nand-kernel"
    return "ssd"


def deployed_env(image: Path) -> dict[str, str]:
    """Variables from the build's ``*.uboot-env.txt`` next to ``image``: its ``bootargs``
    become ``linerate_bootargs`` (the profile's ``set_bootargs`` adds the MACs); its
    ``bootcmd`` is not used (the profile's A/B ``bootcmd`` is)."""
    found = sorted(image.parent.glob("*.uboot-env.txt"), key=lambda p: p.stat().st_mtime)
    if not found:
        return {}
    out: dict[str, str] = {}
    for line in found[-1].read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if sep and name.strip() == "bootargs":
            out["linerate_bootargs"] = value.strip()
    return out


def tftp_overrides(tftp: Tftp, server_ip: str | None, board_ip: str | None) -> Tftp:
    """The profile's TFTP set-up with the addresses given on the command line."""
    if server_ip:
        tftp = replace(tftp, bind=server_ip, serverip=server_ip, linux_serverip=server_ip)
    if board_ip:
        tftp = replace(tftp, ipaddr=board_ip)
    return tftp


def flash(
    strategy: BoardStrategy,
    image: Path,
    medium: str,
    progress: Progress,
    slot: str | None = None,
    transport: str = "auto",
    tftp: Tftp | None = None,
    after_load: Callable[[Loaded], None] | None = None,
    allow_any_image: bool = False,
    extra_env: dict[str, str] | None = None,
    lab: Lab | None = None,
    port: str | None = None,
    rescue_kernel: Path | None = None,
) -> Result:
    """Write ``image`` to ``medium``. NOR and NAND need the unit's survey (``lab``):
    without it, or outside what it measured, nothing is sent to the board."""
    profile = strategy.profile
    if medium not in MEDIA:
        raise FlashError(f"unknown medium {medium!r}: one of {', '.join(MEDIA)}")
    if not image.is_file():
        raise FlashError(f"no image file {image}")
    if image.stat().st_size == 0:
        raise FlashError(f"{image} is empty: nothing done")
    with image.open("rb") as f:
        magic = f.read(4)
    if medium in ("nor", "nand-kernel") and magic != UIMAGE_MAGIC and not allow_any_image:
        raise FlashError(
            f"{image} is not a U-Boot legacy image (no uImage magic): {medium} takes a uImage "
            "(the build's .noruimg / uImage); nothing done"
        )
    if medium != "ssd":
        lab = require_lab(profile, lab, port)
        if medium == "nor":
            # Both slots, whole: a profile whose slot holds a sector the survey found
            # protected is refused before the board is touched (the slot to write is
            # only known after reading the environment).
            surveyed = SurveyedNor.of(profile, lab)
            for part in (p for p in surveyed.nor.partitions if p.slot):
                surveyed.check_write(part.name, part.offset, part.size)
        else:
            nand = profile.flash.nand
            check_surveyed(lab, medium, rescue=nand is not None and nand.rescue is not None)
    if medium == "ssd":
        how = strategy.ensure_shell()
        progress.say(f"the SSD is written from the running appliance ({how})")
        return SsdFlasher(profile, strategy.shell, progress).flash(image)
    how = strategy.to_uboot()
    progress.say(f"at U-Boot's prompt ({how})")
    loader = RamLoader(
        strategy.uboot, profile, progress, transport=transport, tftp=tftp, after_load=after_load
    )
    assert lab is not None
    if ubi_from_linux(lab, medium):
        progress.say(
            f"this unit's U-Boot has no nand write.trimffs ({lab.banner}): the UBI partition "
            "is written from Linux (ubiformat in the rescue initramfs, booted from RAM)"
        )
        kernel, initrd = rescue_images(profile, rescue_kernel)
        return UbiFromLinux(profile, strategy, progress, loader).flash(image, kernel, initrd)
    if medium == "nor":
        return NorFlasher(profile, strategy.uboot, progress, loader, lab).flash(
            image, slot=slot, allow_any=allow_any_image, extra_env=extra_env
        )
    return NandFlasher(profile, strategy.uboot, progress, loader, lab).flash(
        image, medium, extra_env=extra_env
    )
