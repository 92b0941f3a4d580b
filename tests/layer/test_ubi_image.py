"""The Mirabox UBI image settings, run through the real mtd-utils.

mkfs.ubifs with MKUBIFS_ARGS and ubinize with UBINIZE_ARGS and the volume
configuration oe-core writes (image_types.bbclass, write_ubi_config) must
accept the machine's values, and the erase-counter header ubinize writes must
put the data where MKUBIFS_ARGS' logical erase block expects it. Then the
layer's linerate_check_ubi runs on the result.
"""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest
from layerlib import ROOT
from test_image_functions import MEDIA, expand, function_body, run_functions

from linerate.layer import conf as layer_conf

UBI_EC_MAGIC = b"UBI#"


@pytest.fixture(autouse=True)
def tools():
    missing = [t for t in ("mkfs.ubifs", "ubinize") if shutil.which(t) is None]
    if missing:
        pytest.skip("needs: apt-get install mtd-utils")


def make_ubi(tmp_path):
    conf = layer_conf.machine_conf("mirabox")
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "slhttpd.conf").write_text(
        (ROOT / "recipes/slhttpd/files/slhttpd.conf").read_text()
    )
    (rootfs / "bin").mkdir()
    (rootfs / "bin" / "data").write_bytes(bytes(range(256)) * 4096)
    ubifs = tmp_path / "linerate-image-mirabox.rootfs.ubifs"
    mk = subprocess.run(
        ["mkfs.ubifs", "-r", str(rootfs), "-o", str(ubifs), *conf.get("MKUBIFS_ARGS").split()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert mk.returncode == 0, mk.stderr
    cfg = tmp_path / "ubinize.cfg"
    cfg.write_text(
        "[ubifs]\nmode=ubi\n"
        f"image={ubifs}\nvol_id=0\nvol_type=dynamic\n"
        f"vol_name={conf.get('UBI_VOLNAME')}\nvol_flags=autoresize\n"
    )
    ubi = tmp_path / "linerate-image-mirabox.rootfs.ubi"
    un = subprocess.run(
        ["ubinize", "-o", str(ubi), *conf.get("UBINIZE_ARGS").split(), str(cfg)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert un.returncode == 0, un.stderr
    return conf, ubi


def test_ubi_geometry_is_what_ubifs_was_made_for(tmp_path):
    conf, ubi = make_ubi(tmp_path)
    data = ubi.read_bytes()
    peb = layer_conf.size_bytes(conf.get("UBINIZE_ARGS").split()[3])
    assert len(data) % peb == 0
    assert data[:4] == UBI_EC_MAGIC
    # EC header: magic, version, padding, ec (be64), vid_hdr_offset, data_offset
    vid_hdr_offset, data_offset = struct.unpack(">II", data[16:24])
    mkubifs = conf.get("MKUBIFS_ARGS").split()
    leb = int(mkubifs[mkubifs.index("-e") + 1])
    assert vid_hdr_offset == 4096
    assert peb - data_offset == leb


def test_layer_ubi_check_passes_and_fails(tmp_path):
    conf, ubi = make_ubi(tmp_path)
    values = {
        "LINERATE_UBI_PART_SIZE": conf.get("LINERATE_UBI_PART_SIZE"),
        "LINERATE_NAND_SIZE": conf.get("LINERATE_NAND_SIZE"),
        "LINERATE_NAND_PEB": conf.get("LINERATE_NAND_PEB"),
        "IMGDEPLOYDIR": str(tmp_path),
        "IMAGE_NAME": "linerate-image-mirabox.rootfs",
    }
    bodies = [
        expand(function_body(MEDIA, "linerate_check_ubi"), values),
        function_body(MEDIA, "linerate_check_size"),
    ]
    ok = run_functions(tmp_path, bodies, "linerate_check_ubi")
    assert ok.returncode == 0, ok.stderr
    assert f"{ubi.name}: {ubi.stat().st_size} bytes" in ok.stdout
    # A partition exactly the image's size leaves no room for UBI's own blocks.
    values["LINERATE_UBI_PART_SIZE"] = str(ubi.stat().st_size)
    bodies[0] = expand(function_body(MEDIA, "linerate_check_ubi"), values)
    too_big = run_functions(tmp_path, bodies, "linerate_check_ubi")
    assert too_big.returncode != 0 and "does not fit" in too_big.stderr


def test_the_flasher_reads_the_volumes_the_image_holds(tmp_path):
    """linerate.flash.ubi.volumes() (what the read-back through UBI must give) on the
    Mirabox image: one dynamic volume of whole LEBs; a wrong erase block is refused."""
    from linerate.flash.ubi import UbiImageError, volumes

    conf, ubi = make_ubi(tmp_path)
    peb = layer_conf.size_bytes(conf.get("UBINIZE_ARGS").split()[3])
    (vol,) = volumes(ubi, peb)
    mkubifs = conf.get("MKUBIFS_ARGS").split()
    leb = int(mkubifs[mkubifs.index("-e") + 1])
    assert vol.vol_id == 0 and not vol.static
    assert vol.length % leb == 0 and vol.length > 0
    with pytest.raises(UbiImageError, match="not a UBI image"):
        volumes(ubi, peb // 4 * 3)
