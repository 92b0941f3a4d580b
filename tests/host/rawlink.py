"""Crafted frames to slhttpd-host: an AF_PACKET socket on the client end of the veth.

Crafted connections use a source address no kernel owns (10.77.0.3): the client namespace's
kernel drops the server's replies to it (no forwarding) instead of answering them with RSTs,
so every frame the server sees is one the test wrote. Frames are built and parsed with scapy.
"""

from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass, field
from typing import Any, cast

from hostenv import HostEnv
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from linerate.host import netns

CRAFT_ADDR = "10.77.0.3"
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23


class RawLink:
    """Send Ethernet frames from the client side, collect the server's replies to CRAFT_ADDR."""

    def __init__(self, env: HostEnv) -> None:
        self.env = env
        with netns.entered(env.topo.client_ns):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            s.bind((env.topo.client_if, 0))
        s.setblocking(False)
        self.sock = s

    def close(self) -> None:
        self.sock.close()

    def ether(self) -> Ether:
        return Ether(src=self.env.topo.client_mac, dst=self.env.topo.server_mac)

    def send(self, frame: Packet | bytes) -> None:
        self.sock.send(bytes(frame))

    def recv(
        self, sport: int, first: float = 0.3, quiet: float = 0.05, limit: float = 3.0
    ) -> list[Ether]:
        """Replies to ``CRAFT_ADDR:sport``: wait up to ``first`` s for one, then until
        ``quiet`` s pass without another (at most ``limit`` s in all)."""
        got: list[Ether] = []
        start = time.monotonic()
        last = None
        while True:
            now = time.monotonic()
            if last is None and now - start > first:
                return got
            if last is not None and now - last > quiet or now - start > limit:
                return got
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            f = Ether(data)
            if IP in f and f[IP].dst == CRAFT_ADDR and TCP in f and f[TCP].dport == sport:
                got.append(f)
                last = time.monotonic()


def fix(frame: Packet) -> Ether:
    """Serialize (computing lengths and checksums), parse back."""
    return Ether(bytes(frame))


def flags_of(f: Ether) -> str:
    return str(f[TCP].flags)


def payload_of(f: Ether) -> bytes:
    return bytes(f[TCP].payload)


@dataclass
class Conn:
    """A crafted TCP connection from CRAFT_ADDR to the server."""

    link: RawLink
    dport: int = 80
    sport: int = field(default_factory=lambda: random.randint(20000, 60000))
    cseq: int = field(default_factory=lambda: random.randint(0, 2**32 - 1))
    sseq: int = 0  # server ISN + 1, after the handshake
    win: int = 65535

    def frame(
        self,
        flags: str,
        payload: bytes = b"",
        seq: int | None = None,
        ack: int | None = None,
        win: int | None = None,
        ip: dict[str, Any] | None = None,
        tcp: dict[str, Any] | None = None,
    ) -> Ether:
        ip_kw: dict[str, Any] = {"src": CRAFT_ADDR, "dst": self.link.env.addr, **(ip or {})}
        tcp_kw: dict[str, Any] = {
            "sport": self.sport,
            "dport": self.dport,
            "flags": flags,
            "seq": (self.cseq if seq is None else seq) % 2**32,
            "ack": (self.sseq if ack is None else ack) % 2**32,
            "window": self.win if win is None else win,
            **(tcp or {}),
        }
        f = self.link.ether() / IP(**ip_kw) / TCP(**tcp_kw)
        if payload:
            f = f / Raw(payload)
        return cast(Ether, f)

    def exchange(self, frame: Packet | bytes, first: float = 0.3) -> list[Ether]:
        """Send a frame, return the replies (none if nothing comes within ``first`` s)."""
        self.link.send(frame)
        return self.link.recv(self.sport, first=first)

    def handshake(self, mss: int | None = 1460) -> Ether:
        opts = [("MSS", mss)] if mss else []
        replies = self.exchange(self.frame("S", ack=0, tcp={"options": opts}))
        assert len(replies) == 1, f"SYN: expected one SYN-ACK, got {[flags_of(r) for r in replies]}"
        sa = replies[0]
        assert flags_of(sa) == "SA"
        assert sa[TCP].ack == (self.cseq + 1) % 2**32
        self.cseq = (self.cseq + 1) % 2**32
        self.sseq = (sa[TCP].seq + 1) % 2**32
        assert self.exchange(self.frame("A")) == [], "the handshake's ACK is not answered"
        return sa

    def fetch(
        self, request: bytes, head: bool = False, rounds: int = 300
    ) -> tuple[bytes, list[Ether]]:
        """Send a request and receive the whole response like a TCP receiver: ACK what
        arrived in order, retransmit the request when nothing comes. Returns the response
        bytes (up to and excluding a FIN) and every frame received."""
        start = self.sseq
        buf: dict[int, bytes] = {}
        frames: list[Ether] = []
        got = 0
        last = -1
        idle = 0
        replies = self.exchange(self.frame("PA", request))
        for _ in range(rounds):
            frames += replies
            for r in replies:
                off = (r[TCP].seq - start) % 2**32
                data = payload_of(r)
                if data and off < 2**31:
                    buf.setdefault(off, data)
            while got in buf:
                got += len(buf.pop(got))
            if _complete(self._joined(start, frames, got), head):
                break
            if replies and got > last:
                idle = 0
                replies = self.exchange(self.frame("A", ack=start + got))
            else:
                # as a real client's retransmission timer does (the request stays
                # unacknowledged, segments beyond a hole do not stop it): the request
                # again, with the acknowledgement number of what arrived so far
                idle += 1
                assert idle <= 5, f"no progress after {got} bytes"
                replies = self.exchange(self.frame("PA", request, ack=start + got))
            last = got
        data = self._joined(start, frames, got)
        fin = any("F" in flags_of(r) for r in frames)
        self.sseq = (start + len(data) + (1 if fin else 0)) % 2**32
        return data, frames

    @staticmethod
    def _joined(start: int, frames: list[Ether], upto: int) -> bytes:
        out = bytearray(upto)
        for r in frames:
            off = (r[TCP].seq - start) % 2**32
            data = payload_of(r)
            if data and off < upto:
                n = min(len(data), upto - off)
                out[off : off + n] = data[:n]
        return bytes(out)


def _complete(data: bytes, head_request: bool) -> bool:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    if head_request:
        return True
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":", 1)[1])
    return True
