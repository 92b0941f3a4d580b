"""/etc/init.d/slhttpd's configuration logic, run for real on the host.

The script runs under busybox sh with only busybox applets on PATH (as on the
target), in a network namespace of its own holding veth eth0..ethN (`ip
netns exec` gives it that namespace's /sys/class/net), reading the U-Boot
environment with the real fw_printenv (libubootenv) from an environment image
made by mkenvimage (u-boot-tools).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from layerlib import ROOT

FILES = ROOT / "recipes" / "slhttpd" / "files"
INIT = FILES / "slhttpd.init"
CONF = FILES / "slhttpd.conf"
APPLETS = ("sh", "sort", "tr", "sed", "grep", "head", "basename", "logger", "cat")
TOOLS = {"busybox": "busybox", "fw_printenv": "libubootenv-tool", "mkenvimage": "u-boot-tools"}


def need_tools() -> None:
    missing = sorted({pkg for prog, pkg in TOOLS.items() if shutil.which(prog) is None})
    if missing:
        pytest.skip(f"needs: apt-get install {' '.join(missing)}")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False, **kw)


def test_init_script_parses_with_busybox_and_dash():
    need_tools()
    for shell in (["busybox", "sh"], ["dash"]):
        if shutil.which(shell[0]):
            result = run([*shell, "-n", str(INIT)])
            assert result.returncode == 0, f"{shell}: {result.stderr}"


@pytest.fixture
def netns():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    need_tools()
    name = f"lr-layer-{os.getpid()}"
    created = run(["ip", "netns", "add", name])
    assert created.returncode == 0, created.stderr
    try:
        yield name
    finally:
        run(["ip", "netns", "del", name])


def add_ports(ns: str, names: list[str]) -> None:
    # veth pairs (the dummy driver is not always there); peers are not ethN.
    for i, port in enumerate(names):
        result = run(["ip", "-n", ns, "link", "add", port, "type", "veth", "peer", f"pe{i}"])
        assert result.returncode == 0, result.stderr


@pytest.fixture
def target_path(tmp_path) -> Path:
    """A PATH of busybox applets and the real fw_printenv, nothing else."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    busybox = shutil.which("busybox")
    assert busybox
    for applet in APPLETS:
        (bindir / applet).symlink_to(busybox)
    fw = shutil.which("fw_printenv")
    assert fw
    (bindir / "fw_printenv").symlink_to(fw)
    return bindir


def uboot_env(tmp_path: Path, variables: dict[str, str]) -> Path:
    text = tmp_path / "env.txt"
    text.write_text("".join(f"{k}={v}\n" for k, v in {"bootcmd": "boot", **variables}.items()))
    image = tmp_path / "env.bin"
    made = run(["mkenvimage", "-s", "0x10000", "-o", str(image), str(text)])
    assert made.returncode == 0, made.stderr
    config = tmp_path / "fw_env.config"
    config.write_text(f"{image} 0x0 0x10000\n")
    return config


def show_config(ns: str, path: Path, conf: Path, fw_env: Path) -> str:
    result = run(
        ["ip", "netns", "exec", ns, "env", "-i", f"PATH={path}", f"SLHTTPD_CONF={conf}",
         f"FW_ENV_CONFIG={fw_env}", "sh", str(INIT), "config"],
        env={"PATH": f"{path}:/usr/sbin:/usr/bin:/sbin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_default_every_port_but_the_first_serves(netns, target_path, tmp_path):
    add_ports(netns, ["eth0", "eth1", "eth2", "eth3"])
    out = show_config(netns, target_path, CONF, uboot_env(tmp_path, {}))
    assert out == "ifaces=eth1,eth2,eth3 addr=any tcp_ports=80 mgmt=eth0:dhcp"


def test_ports_in_numeric_order(netns, target_path, tmp_path):
    add_ports(netns, ["eth10", "eth2", "eth0", "eth1"])
    out = show_config(netns, target_path, CONF, uboot_env(tmp_path, {}))
    assert out.startswith("ifaces=eth1,eth2,eth10 ")
    assert out.endswith("mgmt=eth0:dhcp")


def test_uboot_environment_overrides_the_file(netns, target_path, tmp_path):
    add_ports(netns, ["eth0", "eth1", "eth2", "eth3"])
    env = uboot_env(
        tmp_path,
        {
            "slhttpd_ifaces": "eth2",
            "slhttpd_addr": "10.1.2.2",
            "slhttpd_tcp_ports": "8080,9000-9010",
            "slhttpd_mgmt_addr": "192.168.0.2/24",
        },
    )
    out = show_config(netns, target_path, CONF, env)
    assert out == "ifaces=eth2 addr=10.1.2.2 tcp_ports=8080,9000-9010 mgmt=eth0:192.168.0.2/24"


def test_file_settings_apply_without_environment(netns, target_path, tmp_path):
    add_ports(netns, ["eth0", "eth1", "eth2"])
    conf = tmp_path / "slhttpd.conf"
    conf.write_text(CONF.read_text() + "MGMT_IFACE=eth2\nSLHTTPD_TCP_PORTS=80,81\n")
    out = show_config(netns, target_path, conf, uboot_env(tmp_path, {"unrelated": "1"}))
    assert out == "ifaces=eth0,eth1 addr=any tcp_ports=80,81 mgmt=eth2:dhcp"


def test_init_script_is_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("needs: apt-get install shellcheck")
    result = run(["shellcheck", "-s", "sh", "-x", INIT.name], cwd=FILES)
    assert result.returncode == 0, result.stdout
