"""The requests the XDP program answers itself (XDP_TX), through BPF_PROG_TEST_RUN.

On the veth of the host tier the XDP program hands every request on to the AF_XDP socket:
the frame's buffer cannot grow to hold the answer (slhttpd/xdp/README.md; with the default
--xdp-requests=auto the program stops trying after the first such request). Real NIC drivers
give XDP a page per frame; so does the kernel's test run (`bpftool prog run`), which runs the
very program the running frontend attached, with the maps it configured, on frames written
here: the handshake, then requests whose answer is one frame must come back as XDP_TX with
the whole HTTP response, and one whose answer is several frames as XDP_REDIRECT (to the XSK).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hostenv import HostEnv
from httpclient import Client
from rawlink import Conn, RawLink
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

XDP_TX = 3
XDP_REDIRECT = 4
CLIENT = "10.77.0.4"  # the frames never reach a kernel: any client address will do


def _prog_id(env: HostEnv) -> int:
    out = subprocess.run(
        ["ip", "-n", env.topo.server_ns, "-j", "link", "show", "dev", env.topo.server_if],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(json.loads(out)[0]["xdp"]["prog"]["id"])


def _run(env: HostEnv, tmp: Path, frame: Ether) -> tuple[int, Ether]:
    src, dst = tmp / "in", tmp / "out"
    src.write_bytes(bytes(frame))
    res = subprocess.run(
        ["bpftool", "prog", "run", "id", str(_prog_id(env)), "data_in", str(src),
         "data_out", str(dst)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    m = re.search(r"Return value: (\d+)", res.stdout + res.stderr)
    assert m, res.stdout + res.stderr
    return int(m.group(1)), Ether(dst.read_bytes())


def _frame(env: HostEnv, flags: str, seq: int, ack: int = 0, data: bytes = b"") -> Ether:
    tcp = TCP(sport=40000, dport=80, flags=flags, seq=seq, ack=ack, window=65535)
    if flags == "S":
        tcp.options = [("MSS", 1460)]
    pkt = (
        Ether(src=env.topo.client_mac, dst=env.topo.server_mac) / IP(src=CLIENT, dst=env.addr) / tcp
    )
    return pkt / Raw(data) if data else pkt


def _connect(env: HostEnv, tmp: Path, seq: int) -> int:
    """SYN -> SYN-ACK by XDP_TX; the server's next sequence number."""
    v, synack = _run(env, tmp, _frame(env, "S", seq))
    assert v == XDP_TX
    assert synack[TCP].flags == "SA" and synack[TCP].ack == seq + 1
    return int(synack[TCP].seq) + 1


def _bpftool_json(*args: str) -> dict:
    res = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


# sl_opts_map[0]: SL_XDP_REQ_* (slhttpd/core/slhttpd.h), what `--xdp-requests=` sets
REQ_OFF, REQ_ON, REQ_AUTO = 0, 1, 2


def _set_requests_in_xdp(env: HostEnv, value: int) -> None:
    """What `slhttpd-host --xdp-requests=on|off|auto` sets: the program's sl_opts_map[0]."""
    for map_id in _bpftool_json("prog", "show", "id", str(_prog_id(env)))["map_ids"]:
        if _bpftool_json("map", "show", "id", str(map_id)).get("name") == "sl_opts_map":
            subprocess.run(
                ["bpftool", "map", "update", "id", str(map_id), "key", "0", "0", "0", "0",
                 "value", str(value), "0", "0", "0"],
                check=True,
            )  # fmt: skip
            return
    raise AssertionError("the attached program has no sl_opts_map")


@pytest.fixture
def xdp_env(env: HostEnv, mode: str) -> Iterator[HostEnv]:
    """The frontend's XDP program with requests parsed in XDP (--xdp-requests=on)."""
    if mode != "xdp":
        pytest.skip("the XDP program runs in --mode xdp only")
    old = env.stats()["fe_xdp_requests"]
    _set_requests_in_xdp(env, REQ_ON)
    try:
        yield env
    finally:
        _set_requests_in_xdp(env, old)


def test_requests_go_to_the_socket_when_off(env: HostEnv, mode: str, tmp_path: Path) -> None:
    """With --xdp-requests=off the program hands every request on (xdp/README.md)."""
    if mode != "xdp":
        pytest.skip("the XDP program runs in --mode xdp only")
    old = env.stats()["fe_xdp_requests"]
    _set_requests_in_xdp(env, REQ_OFF)
    try:
        seq = 7000
        srv = _connect(env, tmp_path, seq)
        v, _ = _run(env, tmp_path, _frame(env, "PA", seq + 1, srv, b"GET /64 HTTP/1.1\r\n\r\n"))
        assert v == XDP_REDIRECT
    finally:
        _set_requests_in_xdp(env, old)


def test_auto_parses_requests_until_a_buffer_cannot_grow(
    make_env: Callable[[Sequence[str]], HostEnv], mode: str, tmp_path: Path
) -> None:
    """The default, --xdp-requests=auto: XDP_TX answers where the driver's buffer can grow
    (the test run: a page per frame), off for good after the first request whose buffer
    cannot (a veth), so a driver without room pays the failed growth once."""
    if mode != "xdp":
        pytest.skip("the XDP program runs in --mode xdp only")
    env = make_env([])
    assert env.stats()["fe_xdp_requests"] == REQ_AUTO
    req = b"GET /64 HTTP/1.1\r\nHost: x\r\n\r\n"
    srv = _connect(env, tmp_path, 3000)
    v, out = _run(env, tmp_path, _frame(env, "PA", 3001, srv, req))
    assert v == XDP_TX, f"verdict {v}"
    assert bytes(out[TCP].payload).startswith(b"HTTP/1.1 200 ")
    assert env.stats()["fe_xdp_requests"] == REQ_AUTO
    # a real request through the veth: no room, the program switches itself off
    c = Client(env, nodelay=True)
    try:
        status, _, data = c.get("/64")
    finally:
        c.close()
    assert status == 200 and len(data) == 64
    assert env.stats()["fe_xdp_requests"] == REQ_OFF
    srv = _connect(env, tmp_path, 4000)
    v, _ = _run(env, tmp_path, _frame(env, "PA", 4001, srv, req))
    assert v == XDP_REDIRECT, f"verdict {v}"


@pytest.mark.parametrize(
    ("target", "status", "body"),
    [("/64", 200, 64), ("/1k", 200, 1024), ("/nope", 404, None), ("/?s=1x", 400, None)],
)
def test_one_frame_answers_are_xdp_tx(
    xdp_env: HostEnv, tmp_path: Path, target: str, status: int, body: int | None
) -> None:
    env = xdp_env
    before = env.stats()
    seq = 1000
    srv = _connect(env, tmp_path, seq)
    req = f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    v, out = _run(env, tmp_path, _frame(env, "PA", seq + 1, srv, req))
    assert v == XDP_TX, f"verdict {v}"
    payload = bytes(out[TCP].payload)
    head, _, rest = payload.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), payload[:80]
    clen = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    assert len(rest) == clen
    if body is not None:
        assert clen == body
    # one frame: it acknowledges the request and comes from the right place
    assert out[TCP].ack == seq + 1 + len(req) and out[TCP].seq == srv
    assert out[IP].dst == CLIENT and out[Ether].dst == env.topo.client_mac
    # the XDP program counted what it answered
    after = env.stats()
    key = "req_keepalive" if status == 200 else f"err_{status}"
    assert after.get(key, 0) > before.get(key, 0), (before, after)


def test_multi_frame_answer_goes_to_the_socket(xdp_env: HostEnv, tmp_path: Path) -> None:
    env = xdp_env
    seq = 5000
    srv = _connect(env, tmp_path, seq)
    req = b"GET /64k HTTP/1.1\r\nHost: x\r\n\r\n"
    v, _ = _run(env, tmp_path, _frame(env, "PA", seq + 1, srv, req))
    assert v == XDP_REDIRECT


@pytest.mark.parametrize("size", [3000, 10000])
def test_answered_filter_is_shared_with_userspace(
    xdp_env: HostEnv, tmp_path: Path, size: int
) -> None:
    """The answered-request filter is one map both cores read and write at the same offsets.

    Userspace answers a request whose response is several segments (through the veth: its
    buffer cannot grow) and notes it in the filter; the XDP program then sees the client's
    retransmission of the request's last byte (all the server acknowledged but one, as under
    loss when the final ACK is lost) and the ACK of the whole response. It must find the note:
    an ACK (dup_req, ack_end), never a parse of the one byte (a 400 response; the cause of the
    400s under loss with requests parsed in XDP) nor a drop. A mapped BPF array spaces its
    values 8-byte aligned: struct sl_answered must be a multiple of 8 bytes (xdp/README.md).
    """
    env = xdp_env
    link = RawLink(env)
    try:
        conn = Conn(link)
        conn.handshake()
        req = f"GET /{size} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        data, _ = conn.fetch(req)
        assert data.startswith(b"HTTP/1.1 200 ") and len(data) > 1460
    finally:
        link.close()
    end = conn.cseq + len(req)
    before = env.stats()
    last = conn.frame("PA", req[-1:], seq=end - 1)
    v, out = _run(env, tmp_path, last)
    assert v == XDP_TX, f"verdict {v}"
    assert bytes(out[TCP].payload) == b"", bytes(out[TCP].payload)[:40]
    assert str(out[TCP].flags) == "A" and out[TCP].ack == end % 2**32
    v, out = _run(env, tmp_path, conn.frame("A", seq=end))
    assert v == XDP_TX, f"verdict {v}"
    assert str(out[TCP].flags) == "A" and out[TCP].ack == end % 2**32
    after = env.stats()
    assert after.get("err_400", 0) == before.get("err_400", 0), (before, after)
    assert after.get("dup_req", 0) > before.get("dup_req", 0), (before, after)
