"""A TCP client, a ping and a request flood made of crafted frames on the virtual
board's raw frame link (QEMU ``-netdev dgram`` on eth1, ``launcher.FrameLink``).

No Linux socket is involved: the frames are built here (struct, no scapy: the flood
needs speed) and the guest's frames are parsed here. The client answers the guest's
ARP requests for its address. Used by the vboard tier (NIC models, MSS clamp,
re-attach) and by ``bench/ndiv_fairness.py``.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

from linerate.vboard.launcher import FrameLink

HOST_MAC = "02:00:00:00:0a:02"
HOST_IP = "10.0.3.2"

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def ip_bytes(addr: str) -> bytes:
    return socket.inet_aton(addr)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


@dataclass
class Frame:
    """What the client needs of a frame from the guest (IPv4 TCP or ICMP, or ARP)."""

    src_mac: bytes
    ethertype: int
    proto: int = 0
    src_ip: bytes = b""
    dst_ip: bytes = b""
    sport: int = 0
    dport: int = 0
    seq: int = 0
    ack: int = 0
    flags: int = 0
    window: int = 0
    payload: bytes = b""
    icmp_type: int = 0
    icmp_id: int = 0
    icmp_seq: int = 0
    arp_op: int = 0
    arp_target: bytes = b""
    arp_sender_ip: bytes = b""
    tsval: int | None = None  # TCP timestamp option


def parse(data: bytes) -> Frame | None:
    if len(data) < 14:
        return None
    ethertype = struct.unpack_from("!H", data, 12)[0]
    f = Frame(src_mac=data[6:12], ethertype=ethertype)
    if ethertype == ETH_P_ARP and len(data) >= 42:
        f.arp_op = struct.unpack_from("!H", data, 20)[0]
        f.arp_sender_ip = data[28:32]
        f.arp_target = data[38:42]
        return f
    if ethertype != ETH_P_IP or len(data) < 34:
        return None
    ihl = (data[14] & 0x0F) * 4
    total = struct.unpack_from("!H", data, 16)[0]
    f.proto = data[23]
    f.src_ip, f.dst_ip = data[26:30], data[30:34]
    l4 = 14 + ihl
    end = 14 + total
    if f.proto == 6 and len(data) >= l4 + 20:
        f.sport, f.dport, f.seq, f.ack = struct.unpack_from("!HHII", data, l4)
        off = (data[l4 + 12] >> 4) * 4
        f.flags = data[l4 + 13]
        f.window = struct.unpack_from("!H", data, l4 + 14)[0]
        f.payload = data[l4 + off : end]
        i = l4 + 20
        while i < l4 + off:
            kind = data[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            size = data[i + 1] if i + 1 < l4 + off else 0
            if size < 2:
                break
            if kind == 8 and size == 10:
                f.tsval = struct.unpack_from("!I", data, i + 2)[0]
            i += size
    elif f.proto == 1 and len(data) >= l4 + 8:
        f.icmp_type = data[l4]
        f.icmp_id, f.icmp_seq = struct.unpack_from("!HH", data, l4 + 4)
        f.payload = data[l4 + 8 : end]
    return f


def ipv4(src: bytes, dst: bytes, proto: int, l4: bytes, ident: int = 0) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, 0x4000, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + l4


def tcp_frame(
    dst_mac: bytes,
    src_mac: bytes,
    src: bytes,
    dst: bytes,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    window: int = 65535,
    mss: int | None = None,
    ts: tuple[int, int] | None = None,
) -> bytes:
    opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
    if ts is not None:
        opts += struct.pack("!BBBBII", 1, 1, 8, 10, ts[0] & 0xFFFFFFFF, ts[1] & 0xFFFFFFFF)
    off = (20 + len(opts)) // 4
    hdr = struct.pack(
        "!HHIIBBHHH",
        sport,
        dport,
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
        off << 4,
        flags,
        window,
        0,
        0,
    )
    seg = hdr + opts + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    seg = seg[:16] + struct.pack("!H", checksum(pseudo + seg)) + seg[18:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ipv4(src, dst, 6, seg)


def icmp_echo_frame(
    dst_mac: bytes, src_mac: bytes, src: bytes, dst: bytes, ident: int, seq: int, data: bytes
) -> bytes:
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    msg = msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ipv4(src, dst, 1, msg, ident=seq)


def arp_reply_frame(dst_mac: bytes, src_mac: bytes, src_ip: bytes, dst_ip: bytes) -> bytes:
    return (
        dst_mac
        + src_mac
        + struct.pack("!HHHBBH", ETH_P_ARP, 1, ETH_P_IP, 6, 4, 2)
        + src_mac
        + src_ip
        + dst_mac
        + dst_ip
    )


@dataclass
class FetchResult:
    status: str
    content_length: int
    body: int  # body bytes received in order
    max_payload: int  # largest TCP payload seen (the MSS the server used)
    segments: int
    fin: bool
    seconds: float
    complete: bool = False


@dataclass
class Conn:
    sport: int
    seq: int  # our next sequence number
    ack: int  # the peer's next sequence number (what we acknowledge)
    ts_recent: int | None = None  # the peer's last timestamp (None: no timestamps)


@dataclass
class FrameClient:
    """Frames into eth1 of a virtual board and back; ``guest_mac`` is eth1's address."""

    link: FrameLink
    guest_mac: str
    host_mac: str = HOST_MAC
    host_ip: str = HOST_IP
    sock: socket.socket = field(init=False)
    #: send the timestamp option (RFC 7323) as Linux clients do: it lets a stateless
    #: server tell a duplicate ACK from a new one and send the missing segments again
    timestamps: bool = True
    #: (event, our ack, segment seq) of the last fetch's out-of-order segments
    trace: list[tuple[str, int, int]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.sock = self.link.open_socket()
        self.sock.settimeout(0.05)
        self._gmac = mac_bytes(self.guest_mac)
        self._hmac = mac_bytes(self.host_mac)
        self._hip = ip_bytes(self.host_ip)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> FrameClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, frame: bytes) -> None:
        self.sock.sendto(frame, self.link.into_guest)

    def recv(self, timeout: float = 0.05) -> Frame | None:
        """The next IPv4 frame from the guest to us (ARP requests for us are answered)."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65536)
        except TimeoutError:
            return None
        f = parse(data)
        if f is None:
            return None
        if f.ethertype == ETH_P_ARP:
            if f.arp_op == 1 and f.arp_target == self._hip:
                self.send(arp_reply_frame(f.src_mac, self._hmac, self._hip, f.arp_sender_ip))
            return None
        if f.dst_ip != self._hip:
            return None
        return f

    def tcp(
        self,
        guest_ip: str,
        conn: Conn,
        dport: int,
        flags: int,
        payload: bytes = b"",
        mss: int | None = None,
        window: int = 65535,
    ) -> bytes:
        ts = None
        if self.timestamps:
            ts = (int(time.monotonic() * 1000), conn.ts_recent or 0)
        return tcp_frame(
            self._gmac,
            self._hmac,
            self._hip,
            ip_bytes(guest_ip),
            conn.sport,
            dport,
            conn.seq,
            conn.ack,
            flags,
            payload,
            window=window,
            mss=mss,
            ts=ts,
        )

    def handshake(
        self, guest_ip: str, sport: int, dport: int = 80, mss: int = 1460, timeout: float = 10.0
    ) -> Conn:
        """SYN until a SYN-ACK comes (every second); our ACK goes with the request."""
        conn = Conn(sport=sport, seq=(sport * 7919) & 0xFFFFFFFF, ack=0)
        syn = self.tcp(guest_ip, conn, dport, TCP_SYN, mss=mss)
        deadline, next_send = time.monotonic() + timeout, 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_send:
                self.send(syn)
                next_send = time.monotonic() + 1.0
            f = self.recv()
            if f and f.proto == 6 and f.dport == sport and f.flags & TCP_SYN:
                conn.ts_recent = f.tsval
                conn.seq += 1
                conn.ack = (f.seq + 1) & 0xFFFFFFFF
                return conn
        raise TimeoutError(f"no SYN-ACK from {guest_ip}:{dport} to port {sport}")

    def fetch(
        self,
        guest_ip: str,
        path: str,
        sport: int,
        dport: int = 80,
        mss: int = 1460,
        timeout: float = 30.0,
    ) -> FetchResult:
        """GET ``path`` in close mode, acknowledging every second segment in order (and
        again after 0.2 s of silence), until the FIN or ``timeout``."""
        t0 = time.monotonic()
        self.trace = []
        conn = self.handshake(guest_ip, sport, dport, mss)
        req = f"GET {path} HTTP/1.1\r\nHost: vboard\r\nConnection: close\r\n\r\n".encode()
        get = self.tcp(guest_ip, conn, dport, TCP_PSH | TCP_ACK, req)
        conn.seq += len(req)
        self.send(get)
        start = conn.ack
        data = bytearray()
        pending: dict[int, bytes] = {}
        fin_seq: int | None = None
        max_payload = segments = unacked = 0
        last_rx = last_dup = time.monotonic()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            f = self.recv()
            now = time.monotonic()
            if f is None or f.proto != 6 or f.dport != sport:
                if now - last_rx > 0.2:
                    if conn.ack == start and not data:
                        self.send(get)  # the request itself got lost
                    else:
                        self.send(self.tcp(guest_ip, conn, dport, TCP_ACK))
                    last_rx = now
                continue
            last_rx = now
            if f.flags & TCP_RST:
                break
            if (
                f.tsval is not None
                and ((f.seq - conn.ack) & 0xFFFFFFFF) >= 0x80000000
                or (f.tsval is not None and f.seq == conn.ack)
            ):
                # RFC 7323: TS.Recent only from segments at or before what we acknowledge,
                # so a duplicate ACK echoes an old clock (the server sees a stale echo)
                conn.ts_recent = f.tsval
            if f.payload:
                segments += 1
                max_payload = max(max_payload, len(f.payload))
                pending[f.seq] = f.payload
            if f.flags & TCP_FIN:
                fin_seq = (f.seq + len(f.payload)) & 0xFFFFFFFF
            while conn.ack in pending:
                chunk = pending.pop(conn.ack)
                data += chunk
                conn.ack = (conn.ack + len(chunk)) & 0xFFFFFFFF
                unacked += 1
            if fin_seq is not None and conn.ack == fin_seq:
                conn.ack = (conn.ack + 1) & 0xFFFFFFFF
                self.send(self.tcp(guest_ip, conn, dport, TCP_ACK | TCP_FIN))
                break
            in_order = not f.payload or not pending
            if unacked >= 2 or (not in_order and now - last_dup > 0.05):
                # out of order: one duplicate ACK per 50 ms, not one per segment (each
                # ACK makes a stateless server send a whole window again)
                self.send(self.tcp(guest_ip, conn, dport, TCP_ACK))
                unacked = 0
                if not in_order:
                    last_dup = now
                    self.trace.append(("dup", conn.ack, f.seq))
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        length = -1
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return FetchResult(
            status=status,
            content_length=length,
            body=len(body),
            max_payload=max_payload,
            segments=segments,
            fin=fin_seq is not None,
            seconds=time.monotonic() - t0,
            complete=length >= 0 and len(body) == length and fin_seq is not None,
        )
