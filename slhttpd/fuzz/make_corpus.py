#!/usr/bin/env python3
"""Write the fuzzer's seed corpus: one file per frame, a control byte first.

Usage: make_corpus.py OUTDIR   (needs scapy)
"""

from __future__ import annotations

import sys
from pathlib import Path

from scapy.layers.inet import ICMP, IP, TCP, IPOption_RR
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

SRV = "10.77.0.1"
CLI = "10.77.0.2"
ETH = Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02")


def tcp(
    tflags: str, payload: bytes = b"", ack: int = 0, tsecr: int | None = None, **ip: object
) -> Packet:
    """A TCP frame to the server; with ``tsecr``, a timestamp option (the harness makes an
    echo with the top bit set valid when control bit 2 is on)."""
    opts = [("NOP", None), ("NOP", None), ("Timestamp", (5000, tsecr))] if tsecr is not None else []
    pkt = (
        ETH
        / IP(src=CLI, dst=SRV, **ip)
        / TCP(sport=40000, dport=80, flags=tflags, seq=1000, ack=ack, window=65535, options=opts)
    )
    return pkt / Raw(payload) if payload else pkt


def seeds() -> dict[str, tuple[int, Packet]]:
    get = b"GET /1k HTTP/1.1\r\nHost: x\r\n\r\n"
    return {
        "syn": (
            0,
            ETH
            / IP(src=CLI, dst=SRV)
            / TCP(sport=40000, dport=80, flags="S", options=[("MSS", 1460)]),
        ),
        "syn_tiny_mss": (
            0,
            ETH / IP(src=CLI, dst=SRV) / TCP(sport=4, dport=80, flags="S", options=[("MSS", 88)]),
        ),
        "get": (4 | 3, tcp("PA", get, ack=0xE0000000)),
        "get_close": (4 | 3, tcp("PA", b"GET /100k HTTP/1.1\r\nConnection: close\r\n\r\n")),
        "head": (4 | 3, tcp("PA", b"HEAD /?s=64 HTTP/1.0\r\n\r\n")),
        "split": (4 | 3, tcp("PA", b"GET /64 HTTP/1.1\r\nHost:")),
        "pipelined": (4 | 3, tcp("PA", get + get)),
        "post": (4 | 3, tcp("PA", b"POST / HTTP/1.1\r\n\r\n")),
        "ack": (4 | 3, tcp("A", ack=0x100)),
        "fin": (4 | 3 | 8, tcp("FA", ack=0x80)),
        "rst": (3, tcp("R")),
        "bad_cookie": (3, tcp("PA", get, ack=12345)),
        "ip_options": (4 | 3, tcp("PA", get, options=[IPOption_RR()])),
        "fragment": (3, tcp("PA", get, flags="MF")),
        # timestamps: a valid echo (top bit set: the harness signs it), a bad one
        "get_ts": (4 | 3, tcp("PA", get, ack=0xE0000000, tsecr=0x80000040)),
        "ack_ts": (4 | 3, tcp("A", ack=0x4000, tsecr=0x80000041)),
        "byte_ts": (4 | 3, tcp("PA", b"x", ack=0x4000, tsecr=0x80000040)),
        "ack_bad_echo": (4 | 3, tcp("A", ack=0x4000, tsecr=0x12345678)),
        "syn_ts": (
            0,
            ETH
            / IP(src=CLI, dst=SRV)
            / TCP(sport=40000, dport=80, flags="S", options=[("MSS", 1460), ("Timestamp", (1, 0))]),
        ),
        # addressing: a group source, a martian source, another station's MAC
        "syn_from_group_mac": (
            0,
            Ether(dst="02:00:00:00:00:01", src="01:00:5e:00:00:01")
            / IP(src=CLI, dst=SRV)
            / TCP(sport=5, dport=80, flags="S"),
        ),
        "syn_from_broadcast_ip": (
            0,
            ETH / IP(src="255.255.255.255", dst=SRV) / TCP(sport=5, dport=80, flags="S"),
        ),
        "syn_to_other_mac": (
            0,
            Ether(dst="02:00:00:00:00:09", src="02:00:00:00:00:02")
            / IP(src=CLI, dst=SRV)
            / TCP(sport=5, dport=80, flags="S"),
        ),
        "arp": (16, Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, pdst=SRV, psrc=CLI)),
        "ping": (16, ETH / IP(src=CLI, dst=SRV) / ICMP() / Raw(b"x" * 56)),
    }


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, (ctl, pkt) in seeds().items():
        (out / name).write_bytes(bytes([ctl]) + bytes(pkt))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
