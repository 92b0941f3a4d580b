"""The flasher's TFTP server against curl (a real client) and a raw client for the
corner cases: options, exact multiples of the block size, errors, loss, block wrap."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from linerate.flash.tftp import (
    ERR_ACCESS,
    ERR_NOT_FOUND,
    ERR_UNKNOWN_TID,
    OP_ACK,
    OP_DATA,
    OP_ERROR,
    OP_OACK,
    TftpError,
    TftpServer,
    negotiate,
    parse_request,
)


@pytest.fixture
def files(tmp_path):
    out = {}
    for name, size in (("small.bin", 1000), ("exact.bin", 4 * 512), ("big.bin", 3 << 20)):
        path = tmp_path / name
        path.write_bytes(os.urandom(size))
        out[name] = path
    (tmp_path / "empty.bin").write_bytes(b"")
    out["empty.bin"] = tmp_path / "empty.bin"
    return out


@pytest.fixture
def server(files):
    seen = []
    with TftpServer(files, port=0, timeout=0.3, retries=3, progress=lambda *a: seen.append(a)) as s:
        s.seen = seen
        yield s


def rrq(name: str, **opts: str) -> bytes:
    body = name.encode() + b"\0octet\0"
    for k, v in opts.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    return struct.pack("!H", 1) + body


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(3.0)
        self.server = ("127.0.0.1", port)
        self.peer = None

    def send(self, packet: bytes, to=None) -> None:
        self.sock.sendto(packet, to or self.peer or self.server)

    def recv(self) -> tuple[int, int, bytes]:
        data, addr = self.sock.recvfrom(70000)
        self.peer = addr
        (op,) = struct.unpack("!H", data[:2])
        if op == OP_OACK:
            return op, 0, data[2:]
        (num,) = struct.unpack("!H", data[2:4])
        return op, num, data[4:]

    def ack(self, block: int) -> None:
        self.send(struct.pack("!HH", OP_ACK, block & 0xFFFF))

    def close(self) -> None:
        self.sock.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("blksize", [None, 1024, 1468])
@pytest.mark.parametrize("name", ["small.bin", "exact.bin", "big.bin"])
def test_curl_downloads_the_exact_bytes(server, files, tmp_path, name, blksize):
    out = tmp_path / "out"
    cmd = ["curl", "-sS", "--max-time", "60", "-o", str(out)]
    if blksize:
        cmd += ["--tftp-blksize", str(blksize)]
    cmd.append(f"tftp://127.0.0.1:{server.port}/{name}")
    subprocess.run(cmd, check=True, timeout=90)
    assert out.read_bytes() == files[name].read_bytes()
    transfer = server.wait_done(name, timeout=10)
    assert transfer.ok and transfer.acked == files[name].stat().st_size
    if blksize:
        assert transfer.blksize == blksize


def test_options_are_negotiated_and_an_exact_multiple_ends_with_an_empty_block(server, files):
    c = Client(server.port)
    c.send(rrq("exact.bin", blksize="512", tsize="0", timeout="2", windowsize="8"))
    op, _, body = c.recv()
    assert op == OP_OACK
    fields = body.split(b"\0")[:-1]
    opts = dict(zip(fields[::2], fields[1::2], strict=True))
    assert opts == {b"blksize": b"512", b"tsize": b"2048", b"timeout": b"2"}  # no windowsize
    c.ack(0)
    data = b""
    for block in range(1, 6):
        op, num, payload = c.recv()
        assert (op, num) == (OP_DATA, block)
        data += payload
        c.ack(block)
    assert len(payload) == 0  # block 5: the empty last block of an exact multiple
    assert data == files["exact.bin"].read_bytes()
    assert server.wait_done("exact.bin", 5).ok
    assert server.seen[-1] == ("exact.bin", 2048, 2048)
    c.close()


def test_an_empty_file_is_one_empty_block(server):
    """(curl refuses tsize 0 in an OACK, so this one is checked with the raw client.)"""
    c = Client(server.port)
    c.send(rrq("empty.bin"))
    assert c.recv() == (OP_DATA, 1, b"")
    c.ack(1)
    assert server.wait_done("empty.bin", 5).ok
    c.close()


def test_errors_for_missing_files_writes_and_other_modes(server):
    c = Client(server.port)
    c.send(rrq("nope.bin"))
    assert c.recv()[:2] == (OP_ERROR, ERR_NOT_FOUND)
    c.send(struct.pack("!H", 2) + b"small.bin\0octet\0")
    assert c.recv()[:2] == (OP_ERROR, ERR_ACCESS)
    c.send(struct.pack("!H", 1) + b"small.bin\0netascii\0")
    op, _, message = c.recv()
    assert op == OP_ERROR and b"octet" in message
    c.send(b"\x00\x01garbage-without-terminator")
    assert c.recv()[0] == OP_ERROR
    c.close()


def test_a_lost_ack_is_recovered_by_retransmission_and_duplicates_are_ignored(server, files):
    c = Client(server.port)
    c.send(rrq("small.bin", blksize="512"))
    assert c.recv()[0] == OP_OACK
    c.ack(0)
    op, num, first = c.recv()
    assert (op, num) == (OP_DATA, 1)
    # Do not acknowledge: the server resends block 1 after its timeout.
    op, num, again = c.recv()
    assert (op, num, again) == (OP_DATA, 1, first)
    c.ack(1)
    op, num, second = c.recv()
    assert num == 2
    c.ack(1)  # a duplicate ACK of block 1 must not trigger a resend of block 2
    c.sock.settimeout(0.15)
    with pytest.raises(TimeoutError):
        c.recv()
    c.sock.settimeout(3.0)
    c.ack(2)
    assert first + second == files["small.bin"].read_bytes()
    assert server.wait_done("small.bin", 5).retransmits >= 1
    c.close()


def test_a_silent_client_ends_the_transfer_with_an_error(server):
    c = Client(server.port)
    c.send(rrq("small.bin"))
    c.recv()
    t = server.wait_done("small.bin", timeout=10)
    assert not t.ok and "no acknowledgement of block 1" in (t.error or "")
    c.close()


def test_a_stranger_gets_unknown_tid(server):
    c = Client(server.port)
    c.send(rrq("big.bin"))
    c.recv()
    stranger = Client(server.port)
    stranger.send(struct.pack("!HH", OP_ACK, 1), to=c.peer)
    assert stranger.recv()[:2] == (OP_ERROR, ERR_UNKNOWN_TID)
    c.send(struct.pack("!HH", OP_ERROR, 0) + b"bye\0")
    t = server.wait_done("big.bin", 5)
    assert "client aborted" in (t.error or "")
    c.close()
    stranger.close()


def test_block_numbers_wrap_after_65535(tmp_path):
    path = tmp_path / "wrap.bin"
    path.write_bytes(os.urandom(8 * 65537 + 3))  # 65538 blocks of 8 bytes
    with TftpServer({"wrap.bin": path}, port=0) as srv:
        c = Client(srv.port)
        c.send(rrq("wrap.bin", blksize="8"))
        assert c.recv()[0] == OP_OACK
        c.ack(0)
        data = bytearray()
        block = 1
        t0 = time.monotonic()
        while True:
            op, num, payload = c.recv()
            assert (op, num) == (OP_DATA, block & 0xFFFF)
            data += payload
            c.ack(block)
            block += 1
            if len(payload) < 8:
                break
        assert bytes(data) == path.read_bytes()
        assert srv.wait_done("wrap.bin", 10).ok
        assert time.monotonic() - t0 < 60
        c.close()


def test_bind_errors_say_what_to_check():
    with pytest.raises(TftpError, match="no interface has the address 192.0.2.1"):
        TftpServer({}, host="192.0.2.1", port=0).start()
    with TftpServer({}, port=0) as first:
        with pytest.raises(TftpError, match="in use"):
            TftpServer({}, port=first.port).start()


def test_request_parsing_and_negotiation():
    assert parse_request(rrq("a/b.img", BLKSIZE="1468")) == (
        1,
        "a/b.img",
        "octet",
        {"blksize": "1468"},
    )
    assert negotiate({"blksize": "4"}, 10) == {}
    assert negotiate({"blksize": "100000"}, 10) == {"blksize": "65464"}
    assert negotiate({"timeout": "0", "tsize": "0"}, 10) == {"tsize": "10"}
