"""`linerate kernel`: the virt kernel and slhttpd.ko build offline from the
layer's inputs, the configuration is what the virtual board needs, the module
matches the kernel, a second run is served from the cache, and the board
configuration compiles the patched drivers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from linerate import ROOT
from linerate.kernel.build import modinfo_field, read_config

COLD_TIMEOUT = 3 * 3600  # cold builds on a busy 2-core machine


def run_kernel(*args: str, timeout: float = COLD_TIMEOUT) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "linerate", "kernel", *args, "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(cmd[2:])} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    )
    manifest: dict[str, Any] = json.loads(proc.stdout)
    return manifest


@pytest.fixture(scope="module")
def virt() -> dict[str, Any]:
    return run_kernel("--target", "virt")


def test_virt_outputs_exist(virt: dict[str, Any]):
    zimage = Path(virt["zImage"])
    data = zimage.read_bytes()
    assert len(data) > 1_000_000, f"{zimage} is suspiciously small"
    assert int.from_bytes(data[0x24:0x28], "little") == 0x016F2818, f"{zimage}: not a zImage"
    assert Path(virt["module"]).is_file()
    assert virt["release"].startswith("6.12.")


def test_virt_config(virt: dict[str, Any]):
    cfg = read_config(Path(virt["config"]))
    for name in (
        "CONFIG_NDIV",
        "CONFIG_MMU",
        "CONFIG_ARCH_VIRT",
        "CONFIG_E1000",
        "CONFIG_E1000E",
        "CONFIG_IGB",
        "CONFIG_VIRTIO_PCI",
        "CONFIG_VIRTIO_NET",
        "CONFIG_PCI_HOST_GENERIC",
        "CONFIG_SERIAL_AMBA_PL011_CONSOLE",
        "CONFIG_DEVTMPFS",
        "CONFIG_BLK_DEV_INITRD",
        "CONFIG_MODULES",
        "CONFIG_MODULE_UNLOAD",
        "CONFIG_COMPAT_32BIT_TIME",
        # The XDP frontend in the guest (slhttpd/xdp/README.md "On the virtual board"):
        # AF_XDP, the ARM32 JIT, bpf_probe_read_kernel() (BPF_EVENTS).
        "CONFIG_XDP_SOCKETS",
        "CONFIG_BPF_JIT",
        "CONFIG_BPF_EVENTS",
    ):
        assert cfg.get(name) == "y", f"{name} is {cfg.get(name, 'not set')}"
    # What the JIT refuses (the interpreter) must still run: never JIT-only.
    assert "CONFIG_BPF_JIT_ALWAYS_ON" not in cfg
    assert "CONFIG_ARM_LPAE" not in cfg, "the virt kernel must be non-LPAE (Armada 370 has none)"
    assert "CONFIG_CPU_V7M" not in cfg, "an ARMv7-M kernel: CONFIG_MMU got lost"


#: The ndiv hooks the virtual board runs (linerate vboard --nic ...). Each calls
#: __ndiv_rx() and ndiv_rx_flush(): both are undefined symbols of the hooked object.
VIRT_HOOKS = (
    "drivers/net/ethernet/intel/e1000/e1000_main.o",
    "drivers/net/ethernet/intel/e1000e/netdev.o",
    "drivers/net/ethernet/intel/igb/igb_main.o",
    "drivers/net/virtio_net.o",
)


def test_virt_builds_every_hook(virt: dict[str, Any]):
    out = Path(virt["outdir"])
    for obj in VIRT_HOOKS:
        path = out / obj
        assert path.is_file(), f"{obj} was not built"
        data = path.read_bytes()
        for symbol in (b"__ndiv_rx", b"ndiv_rx_flush"):
            assert symbol + b"\0" in data, f"{obj}: no call to {symbol.decode()} (no hook?)"
    system_map = Path(virt["system_map"]).read_text()
    for symbol in ("__ndiv_rx", "ndiv_rx_flush", "ndiv_attached"):
        assert f" {symbol}\n" in system_map, f"{symbol} not in the virt kernel"


def test_every_patch_is_checkpatch_strict_clean(virt: dict[str, Any]):
    """The series as the kernel's own checkpatch.pl --strict sees it (no warnings)."""
    checkpatch = Path(virt["source"]) / "scripts" / "checkpatch.pl"
    patches = sorted((ROOT / "recipes" / "linux-ndiv" / "files").glob("0*.patch"))
    assert len(patches) >= 11
    for patch in patches:
        text = patch.read_text()
        assert "\nUpstream-Status: " in text, f"{patch.name}: no Upstream-Status"
        proc = subprocess.run(
            ["perl", str(checkpatch), "--strict", "--no-tree", "-q", str(patch)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0 and not proc.stdout.strip(), f"{patch.name}:\n{proc.stdout}"


def test_module_matches_kernel(virt: dict[str, Any]):
    ko = Path(virt["module"])
    vermagic = modinfo_field(ko, "vermagic")
    assert vermagic is not None, f"{ko}: no vermagic"
    assert vermagic.split()[0] == virt["release"], f"{vermagic!r} vs {virt['release']}"
    assert "mod_unload" in vermagic.split()
    assert modinfo_field(ko, "depends") is not None
    assert modinfo_field(ko, "name") == "slhttpd"
    data = ko.read_bytes()
    for param in ("ifaces", "ports", "addr", "mss", "max_body"):
        assert f"parm={param}:".encode() in data, f"no module parameter {param}"
    # the core (slhttpd/core) is linked in: its counter names are in the module
    assert b"req_keepalive" in data


def test_second_run_is_cached(virt: dict[str, Any]):
    start = time.monotonic()
    again = run_kernel("--target", "virt", timeout=600)
    elapsed = time.monotonic() - start
    assert again["cached"] is True
    assert again["zImage"] == virt["zImage"] and again["module"] == virt["module"]
    assert elapsed < 60, f"a cached run took {elapsed:.0f} s"
    paths = subprocess.run(
        [sys.executable, "-m", "linerate", "kernel", "--target", "virt", "--print-paths"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert paths.returncode == 0 and json.loads(paths.stdout)["zImage"] == virt["zImage"]


def test_boards_check_compiles_patched_drivers():
    check = run_kernel("--target", "boards-check")
    cfg = read_config(Path(check["config"]))
    assert cfg.get("CONFIG_NDIV") == "y" and cfg.get("CONFIG_MVNETA") == "y"
    assert cfg.get("CONFIG_ARM_APPENDED_DTB") == "y"
    assert "CONFIG_ARM_LPAE" not in cfg
    for obj in check["objects"]:
        assert Path(obj).is_file(), f"{obj} was not compiled"
    # ixgbe: QEMU has no model of it, so it is only built, here, with the board config
    ixgbe = [Path(o) for o in check["objects"] if o.endswith("ixgbe/ixgbe_main.o")]
    assert ixgbe and b"ndiv_rx_flush\0" in ixgbe[0].read_bytes()
    for dtb in check["dtbs"]:
        assert Path(dtb).stat().st_size > 10_000, f"{dtb} missing or empty"


#: The ethernetN aliases (patch 0007): port N is the bootloader's eth{N}addr.
BOARD_ALIASES = {
    "armada-xp-openblocks-ax3-4.dtb": {
        "ethernet0": "ethernet@70000",
        "ethernet1": "ethernet@74000",
        "ethernet2": "ethernet@30000",
        "ethernet3": "ethernet@34000",
    },
    "armada-370-mirabox.dtb": {"ethernet0": "ethernet@70000", "ethernet1": "ethernet@74000"},
}


def test_board_dtbs_number_the_ports_as_uboot_does():
    check = run_kernel("--target", "boards-check")
    dtc = Path(check["config"]).parent / "scripts" / "dtc" / "dtc"
    assert dtc.is_file(), f"the kernel build has no dtc at {dtc}"
    dtbs = {Path(d).name: Path(d) for d in check["dtbs"]}
    for name, aliases in BOARD_ALIASES.items():
        assert name in dtbs, f"{name} was not built ({sorted(dtbs)})"
        dts = subprocess.run(
            [str(dtc), "-q", "-I", "dtb", "-O", "dts", str(dtbs[name])],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        block = dts.split("aliases {", 1)[1].split("};", 1)[0]
        for alias, node in aliases.items():
            m = re.search(rf'^\s*{alias} = "([^"]+)";', block, re.M)
            assert m and m.group(1).endswith("/" + node), f"{name}: {alias} -> {m and m[1]}"
