"""The UBI partition written from Linux: rescue initramfs from RAM, ubiformat, read-back.

Runs where the profile has a rescue (flash.nand.rescue) and the unit's U-Boot has no
``nand write.trimffs``: the Mirabox with its vendor U-Boot, and the virtual board
(nandsim in the guest kernel stands in for the NAND; its U-Boot has no nand command).
The image has a dynamic and a static volume: both read back through UBI.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from linerate.flash.errors import FlashError
from linerate.flash.flasher import flash
from linerate.flash.nand import ubi_from_linux
from linerate.flash.progress import Progress
from linerate.flash.ubi import UbiResult


def _ubi_image(tmp: Path, page: int, peb: int, subpage: int) -> Path:
    """A UBI image for this NAND: UBIFS in a dynamic volume, random bytes in a static one."""
    root = tmp / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hello").write_text("linerate ubi\n")
    (root / "data").write_bytes(os.urandom(300_000))
    vid = subpage
    leb = peb - 2 * page if vid == page else peb - page
    ubifs = tmp / "rootfs.ubifs"
    subprocess.run(
        ["mkfs.ubifs", "-m", str(page), "-e", str(leb), "-c", "200", "-r", str(root),
         "-o", str(ubifs)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    blob = tmp / "static.bin"
    blob.write_bytes(os.urandom(200_000))
    cfg = tmp / "ubinize.cfg"
    cfg.write_text(
        f"[rootfs]\nmode=ubi\nimage={ubifs}\nvol_id=0\nvol_type=dynamic\nvol_name=rootfs\n"
        f"[blob]\nmode=ubi\nimage={blob}\nvol_id=1\nvol_type=static\nvol_name=blob\n"
    )
    out = tmp / "test.ubi"
    subprocess.run(
        ["ubinize", "-o", str(out), "-m", str(page), "-p", str(peb), "-s", str(subpage),
         str(cfg)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return out


@pytest.fixture
def rescue_nand(board_profile, board_lab):
    nand = board_profile.flash.nand
    if nand is None or nand.rescue is None:
        pytest.skip(f"{board_profile.name} has no NAND rescue in its profile")
    if not ubi_from_linux(board_lab, "nand-ubi"):
        pytest.skip("this unit's U-Boot has nand write.trimffs: UBI is written from U-Boot")
    return nand


def test_a_ubi_image_for_another_geometry_is_refused_untouched(
    board, at_uboot, board_lab, rescue_nand, tmp_path
):
    image = _ubi_image(tmp_path, 2048, rescue_nand.erase_block * 2, 512)
    with pytest.raises(FlashError, match="not a UBI image") as err:
        flash(at_uboot, image, "nand-ubi", Progress(), lab=board_lab)
    assert "untouched" in str(err.value)


def test_ubi_written_from_linux_reads_back(board, at_uboot, board_lab, rescue_nand, tmp_path):
    image = _ubi_image(tmp_path, rescue_nand.page, rescue_nand.erase_block, 512)
    result = flash(at_uboot, image, "nand-ubi", Progress(), lab=board_lab)
    assert isinstance(result, UbiResult)
    assert [(v.vol_id, v.static) for v in result.volumes] == [(0, False), (1, True)]
    assert result.volumes[1].length == 200_000
    # The board runs the rescue shell from RAM; a reset brings back U-Boot and the
    # flash it booted from (the NOR slots are untouched).
    at_uboot.to_uboot()
    assert at_uboot.uboot.printenv().get("ethaddr")
