"""Crafted frames (scapy, raw socket in the client namespace) against slhttpd-host."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hostenv import HostEnv
from rawlink import Conn, RawLink, fix, flags_of, payload_of
from scapy.layers.inet import IP, TCP, IPOption
from scapy.layers.l2 import Ether
from slhttpd_expect import body, check_response, core_constant, split_response

BURST_PLAIN = core_constant("SL_BURST_PLAIN")
BURST_RESEND = core_constant("SL_BURST_RESEND")
FIRST_FLIGHT = core_constant("SL_FIRST_FLIGHT_DEFAULT")


@pytest.fixture
def link(env: HostEnv) -> Iterator[RawLink]:
    rl = RawLink(env)
    yield rl
    rl.close()


def get(target: str, close: bool = False) -> bytes:
    conn = b"Connection: close\r\n" if close else b""
    return b"GET " + target.encode() + b" HTTP/1.1\r\nHost: t\r\n" + conn + b"\r\n"


def delta(env: HostEnv, before: dict[str, int]) -> dict[str, int]:
    after = env.stats()
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


def test_full_exchange_by_hand(env: HostEnv, link: RawLink) -> None:
    """Reference: the crafted client gets a correct response (the other tests build on it)."""
    c = Conn(link)
    before = env.stats()
    sa = c.handshake()
    assert dict(sa[TCP].options).get("MSS") == 1460
    data, _ = c.fetch(get("/3000"))
    check_response(data, 3000)
    d = delta(env, before)
    assert d.get("syn") == 1 and d.get("req_keepalive") == 1


def test_spoofed_ack_and_get_without_handshake(env: HostEnv, link: RawLink) -> None:
    """ACK + GET with no SYN before (random acknowledgement numbers), no timestamps: never an
    HTTP response, and never more than one segment.

    PROTOCOL.md: a blind ACK lands on a valid cookie position with probability 1/256; at a body
    state it is taken for a retransmitted request, which without a fresh timestamp echo releases
    SL_BURST_RESEND segments (a first request must sit exactly at the request state: 2^-16).
    """
    before = env.stats()
    tries, hits = 40, 0
    for _ in range(tries):
        c = Conn(link, sseq=random.randint(0, 2**32 - 1))
        replies = c.exchange(c.frame("PA", get("/100000")))
        data = [payload_of(r) for r in replies if payload_of(r)]
        assert not any(d.startswith(b"HTTP/") for d in data), "spoofed request got a response"
        assert len(data) <= BURST_RESEND, f"{len(data)} segments for one blind frame"
        hits += bool(data)
    # 40 tries at 1/256: P(more than 3 hits) < 1e-5
    assert hits <= 3, f"{hits} of {tries} blind ACKs were taken for valid connections"
    d = delta(env, before)
    assert d.get("req_keepalive", 0) == 0 and d.get("req_close", 0) == 0


def test_spoofed_frames_with_timestamps_get_no_data(env: HostEnv, link: RawLink) -> None:
    """Blind ACK + GET, ACK + 1 byte and pure ACKs with a timestamp option (random ack and
    TSecr): our TSval is a MAC the echo must match, so none gets a byte of data (PROTOCOL.md
    "Authentication": probability 2^-24 per frame)."""
    before = env.stats()
    for i in range(60):
        c = Conn(link, sseq=random.randint(0, 2**32 - 1))
        payload = [get("/100000"), b"x", b""][i % 3]
        ts = [("Timestamp", (random.randint(0, 2**32 - 1), random.randint(0, 2**32 - 1)))]
        replies = c.exchange(
            c.frame("PA" if payload else "A", payload, tcp={"options": ts}), first=0.1
        )
        assert not any(payload_of(r) for r in replies), [flags_of(r) for r in replies]
    d = delta(env, before)
    assert d.get("tx_bytes", 0) == 0, d


def test_handshake_with_timestamps_then_replay(env: HostEnv, link: RawLink) -> None:
    """A crafted client with timestamps: its request (echoing our SYN-ACK's TSval) gets the
    first flight (the initial window: the sender cache holds the response), its ACK of two
    segments the rest of its window; the same request replayed with an echo that is not ours
    gets an RST, no data."""
    c = Conn(link)
    ts = ("Timestamp", (1000, 0))
    replies = c.exchange(c.frame("S", ack=0, tcp={"options": [("MSS", 1460), ts]}))
    assert len(replies) == 1 and flags_of(replies[0]) == "SA"
    tsval = dict(replies[0][TCP].options)["Timestamp"][0]
    c.cseq = (c.cseq + 1) % 2**32
    c.sseq = (replies[0][TCP].seq + 1) % 2**32
    echo = [("NOP", None), ("NOP", None), ("Timestamp", (1001, tsval))]
    req = get("/100000")
    got = c.exchange(c.frame("PA", req, tcp={"options": echo}))
    segs = sorted((r for r in got if payload_of(r)), key=lambda r: (r[TCP].seq - c.sseq) % 2**32)
    assert len(segs) == FIRST_FLIGHT, f"first flight: {len(segs)} segments"
    assert payload_of(segs[0]).startswith(b"HTTP/1.1 200 OK")
    tsval2 = dict(segs[0][TCP].options)["Timestamp"][0]
    echo2 = [("NOP", None), ("NOP", None), ("Timestamp", (1002, tsval2))]
    ack2 = segs[2][TCP].seq
    got = c.exchange(c.frame("A", seq=c.cseq + len(req), ack=ack2, tcp={"options": echo2}))
    more = [r for r in got if payload_of(r)]
    assert len(more) > BURST_PLAIN, f"fresh echo: {len(more)} segments"
    starts = sorted((r[TCP].seq - ack2) % 2**32 for r in more)
    ends = [(r[TCP].seq + len(payload_of(r)) - ack2) % 2**32 for r in more]
    assert starts[0] == sum(len(payload_of(r)) for r in segs[2:]), (
        "the rest starts where the first flight ended"
    )
    seg = max(len(payload_of(r)) for r in more)
    assert 65535 - seg < max(ends) <= 65535, f"up to the window's edge: {max(ends)}"
    forged = [("NOP", None), ("NOP", None), ("Timestamp", (1002, tsval ^ 1))]
    got = c.exchange(c.frame("PA", get("/100000"), tcp={"options": forged}))
    assert not any(payload_of(r) for r in got)
    assert [flags_of(r) for r in got] == ["R"], [flags_of(r) for r in got]


@pytest.mark.parametrize("mss", [88, 200, 536])
def test_small_client_mss(env: HostEnv, link: RawLink, mss: int) -> None:
    """Segments never exceed the client's MSS; the response is still complete."""
    c = Conn(link)
    sa = c.handshake(mss=mss)
    assert dict(sa[TCP].options).get("MSS", 0) <= 1460
    size = 4000
    data, frames = c.fetch(get(f"/{size}"))
    sizes = [len(payload_of(f)) for f in frames]
    assert max(sizes) <= mss, f"segment of {max(sizes)} bytes for MSS {mss}"
    check_response(data, size)


def test_rst_never_answered(env: HostEnv, link: RawLink) -> None:
    c = Conn(link)
    c.handshake()
    before = env.stats()
    frames = [
        c.frame("R"),
        c.frame("RA"),
        c.frame("R", seq=random.randint(0, 2**32 - 1), ack=random.randint(0, 2**32 - 1)),
        c.frame("RA", get("/64")),
    ]
    for f in frames:
        assert c.exchange(f) == [], "an RST was answered"
    d = delta(env, before)
    assert d.get("rst_rcvd") == len(frames)
    assert d.get("tx_frames", 0) == 0


def _twice(c: Conn, frame: Ether) -> list[tuple[str, int, int, bytes]]:
    """Send the same frame twice; both answers, as (flags, seq, ack, payload) lists."""
    answers = []
    for _ in range(2):
        replies = c.exchange(frame)
        answers.append([(flags_of(r), r[TCP].seq, r[TCP].ack, payload_of(r)) for r in replies])
    assert answers[0] == answers[1], f"duplicate FIN answered differently: {answers}"
    assert answers[0], "FIN not answered"
    return answers[0]


def test_duplicate_fin_after_handshake(env: HostEnv, link: RawLink) -> None:
    c = Conn(link)
    c.handshake()
    (ans,) = _twice(c, c.frame("FA"))
    assert ans[0] == "FA" and ans[2] == c.cseq + 1


def test_duplicate_fin_after_keepalive_response(env: HostEnv, link: RawLink) -> None:
    c = Conn(link)
    c.handshake()
    req = get("/100")
    data, _ = c.fetch(req)
    check_response(data, 100)
    c.cseq += len(req)
    (ans,) = _twice(c, c.frame("FA"))
    assert ans[0] == "FA" and ans[2] == c.cseq + 1


def test_duplicate_fin_after_close_response(env: HostEnv, link: RawLink) -> None:
    """Close mode: our FIN acknowledged (ACK expected), then not acknowledged (FIN-ACK)."""
    c = Conn(link)
    c.handshake()
    req = get("/100", close=True)
    data, frames = c.fetch(req)
    check_response(data, 100, keepalive=False)
    assert any("F" in flags_of(f) for f in frames), "close mode without our FIN"
    c.cseq += len(req)
    (ans,) = _twice(c, c.frame("FA"))  # acks our FIN too (c.sseq counts it)
    assert ans[0] == "A" and ans[2] == c.cseq + 1
    (ans,) = _twice(c, c.frame("FA", ack=c.sseq - 1))  # our FIN lost
    assert ans[0] == "FA" and ans[2] == c.cseq + 1


def test_duplicate_fin_mid_response(env: HostEnv, link: RawLink) -> None:
    """FIN while the response is unfinished: RST, the same both times."""
    c = Conn(link)
    c.handshake()
    replies = c.exchange(c.frame("PA", get("/20000"), win=4 * 1400))
    assert replies, "no response"
    first = min(replies, key=lambda r: (r[TCP].seq - c.sseq) % 2**32)
    mid = (first[TCP].seq + len(payload_of(first))) % 2**32
    answers = _twice(c, c.frame("FA", ack=mid))
    assert [a[0] for a in answers] in (["R"], ["RA"])


def test_split_headers_answered_in_close_mode(env: HostEnv, link: RawLink) -> None:
    """Request line complete, headers cut: answered in close mode; cut request line: 400."""
    c = Conn(link)
    c.handshake()
    before = env.stats()
    data, _ = c.fetch(b"GET /500 HTTP/1.1\r\nHost: t\r\n")
    check_response(data, 500, keepalive=False)
    assert delta(env, before).get("split") == 1

    c2 = Conn(link)
    c2.handshake()
    before = env.stats()
    data, _ = c2.fetch(b"GET /50")
    status, headers, _ = split_response(data)
    assert status == 400 and headers["connection"] == "close"
    assert delta(env, before).get("err_400") == 1


def test_ip_options_are_skipped(env: HostEnv, link: RawLink) -> None:
    """Frames with IP options are served; replies carry no options."""
    c = Conn(link)
    ra = {"options": [IPOption(b"\x94\x04\x00\x00")]}  # router alert
    replies = c.exchange(c.frame("S", ack=0, ip=ra, tcp={"options": [("MSS", 1460)]}))
    assert len(replies) == 1 and flags_of(replies[0]) == "SA"
    assert replies[0][IP].ihl == 5
    c.cseq += 1
    c.sseq = replies[0][TCP].seq + 1
    replies = c.exchange(c.frame("PA", get("/64"), ip=ra))
    data = b"".join(payload_of(r) for r in sorted(replies, key=lambda r: r[TCP].seq))
    check_response(data, 64)
    assert all(r[IP].ihl == 5 for r in replies)


def _expect_drop(env: HostEnv, c: Conn, frame: bytes | Ether, counters: tuple[str, ...]) -> None:
    before = env.stats()
    assert c.exchange(frame) == [], "a malformed frame was answered"
    d = delta(env, before)
    assert sum(d.get(k, 0) for k in counters) == 1, f"expected one of {counters}: {d}"
    assert d.get("syn", 0) == 0 and d.get("tx_frames", 0) == 0


def test_ip_fragments_dropped(env: HostEnv, link: RawLink) -> None:
    c = Conn(link)
    syn = c.frame("S", ack=0)
    _expect_drop(env, c, fix(_with_ip(syn, flags="MF")), ("drop_frag",))
    _expect_drop(env, c, fix(_with_ip(syn, frag=8)), ("drop_frag",))


def _with_ip(frame: Ether, **fields: object) -> Ether:
    f = frame.copy()
    for k, v in fields.items():
        setattr(f[IP], k, v)
    return f


def test_bad_ihl_and_data_offset(env: HostEnv, link: RawLink) -> None:
    c = Conn(link)
    syn = fix(c.frame("S", ack=0))
    raw = bytearray(bytes(syn))
    # IHL 4 (< 5), checksum fixed so only the IHL is wrong.
    bad = bytearray(raw)
    bad[14] = 0x44
    _expect_drop(env, c, _ip_csum(bad), ("drop_bad_ip",))
    # IHL 15: header longer than the packet.
    bad = bytearray(raw)
    bad[14] = 0x4F
    _expect_drop(env, c, _ip_csum(bad), ("drop_bad_ip", "drop_trunc"))
    # TCP data offset 4 (< 5) and 15 (past the segment).
    for doff in (4, 15):
        bad = bytearray(raw)
        bad[14 + 20 + 12] = doff << 4 | (bad[14 + 20 + 12] & 0x0F)
        _expect_drop(env, c, _tcp_csum(bad), ("drop_bad_tcp", "drop_trunc"))


def test_truncated_frames(env: HostEnv, link: RawLink) -> None:
    """IP total length larger than the frame, and a TCP header cut short."""
    c = Conn(link)
    raw = bytes(fix(c.frame("S", ack=0, tcp={"options": [("MSS", 1460)]})))
    _expect_drop(env, c, raw[:-6], ("drop_trunc", "drop_bad_ip"))
    cut = bytearray(raw[: 14 + 20 + 10])
    cut[16:18] = (30).to_bytes(2, "big")  # consistent IP length, TCP header cut at 10 bytes
    _expect_drop(env, c, _ip_csum(cut), ("drop_trunc", "drop_bad_tcp"))


def test_bad_checksums(env: HostEnv, link: RawLink) -> None:
    c = Conn(link)
    good = fix(c.frame("S", ack=0))
    bad_ip = good.copy()
    bad_ip[IP].chksum ^= 0x0101
    _expect_drop(env, c, bytes(bad_ip), ("drop_csum",))
    bad_tcp = good.copy()
    bad_tcp[TCP].chksum ^= 0x0101
    _expect_drop(env, c, bytes(bad_tcp), ("drop_csum",))
    bad_req = Conn(link)
    bad_req.handshake()
    req = fix(bad_req.frame("PA", get("/64")))
    req[TCP].chksum ^= 0x0101
    _expect_drop(env, bad_req, bytes(req), ("drop_csum",))
    # the same frames with good checksums are answered
    assert [flags_of(r) for r in c.exchange(good)] == ["SA"]


def test_zero_window(env: HostEnv, link: RawLink) -> None:
    """A request with window 0 gets no data; its retransmission with a window does."""
    c = Conn(link)
    c.handshake()
    before = env.stats()
    replies = c.exchange(c.frame("PA", get("/64"), win=0))
    assert all(payload_of(r) == b"" for r in replies)
    assert delta(env, before).get("drop_window") == 1
    data, _ = c.fetch(get("/64"))
    check_response(data, 64)


def test_pattern_in_every_segment(env: HostEnv, link: RawLink) -> None:
    """Each data segment alone matches the pattern at its offset (no stale bytes)."""
    c = Conn(link)
    c.handshake(mss=536)
    size = 10000
    data, frames = c.fetch(get(f"/{size}"))
    check_response(data, size)
    hdr_len = data.index(b"\r\n\r\n") + 4
    start = c.sseq - len(data)
    want = data[:hdr_len] + body(size)
    for f in frames:
        off = (f[TCP].seq - start) % 2**32
        seg = payload_of(f)
        assert want[off : off + len(seg)] == seg, f"segment at {off} differs"


def _ip_csum(frame: bytearray) -> bytes:
    """Recompute the IPv4 header checksum of a raw frame (IHL as written, bounded)."""
    ihl = min((frame[14] & 0x0F) * 4, len(frame) - 14)
    frame[24:26] = b"\0\0"
    s = sum(int.from_bytes(frame[14 + i : 16 + i], "big") for i in range(0, ihl - ihl % 2, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    frame[24:26] = (~s & 0xFFFF).to_bytes(2, "big")
    return bytes(frame)


def _tcp_csum(frame: bytearray) -> bytes:
    """Recompute the TCP checksum (IHL 5) of a raw frame after a header edit."""
    seg = frame[34:]
    seg[16:18] = b"\0\0"
    pseudo = bytes(frame[26:34]) + b"\0\x06" + len(seg).to_bytes(2, "big")
    data = pseudo + bytes(seg) + (b"\0" if len(seg) % 2 else b"")
    s = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    seg[16:18] = (~s & 0xFFFF).to_bytes(2, "big")
    frame[34:] = seg
    return bytes(frame)


def test_pipelined_requests(env: HostEnv, link: RawLink) -> None:
    """Two requests in one segment: the first is answered, in close mode (PROTOCOL.md)."""
    c = Conn(link)
    c.handshake()
    before = env.stats()
    data, frames = c.fetch(get("/10") + get("/20"))
    check_response(data, 10, keepalive=False)
    assert any("F" in flags_of(f) for f in frames), "close mode without a FIN"
    d = delta(env, before)
    assert d.get("pipelined") == 1 and d.get("req_close") == 1


def test_http10_and_lf_only_lines(env: HostEnv, link: RawLink) -> None:
    """HTTP/1.0 defaults to close; bare LF line ends are accepted."""
    c = Conn(link)
    c.handshake()
    data, _ = c.fetch(b"GET /33 HTTP/1.0\n\n")
    check_response(data, 33, keepalive=False)
    c2 = Conn(link)
    c2.handshake()
    data, _ = c2.fetch(b"GET /33 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    check_response(data, 33, keepalive=True)


# PROTOCOL.md "Who is answered": SYNs that must get nothing, and why. Each is a
# frame with a valid checksum to a served port; the core's counters show what it did.
NOT_OURS = [  # (what, Ether overrides, IP overrides): not for us at all (handed on)
    ("to the broadcast MAC", {"dst": "ff:ff:ff:ff:ff:ff"}, {}),
    ("to a multicast MAC", {"dst": "01:00:5e:00:00:01"}, {}),
    ("to another host's MAC", {"dst": "02:4c:52:00:00:99"}, {}),
]
NEVER_ANSWERED = [  # (what, Ether overrides, IP overrides): ours, but never answered
    ("from a multicast MAC", {"src": "01:00:5e:00:00:01"}, {}),
    ("from the broadcast MAC", {"src": "ff:ff:ff:ff:ff:ff"}, {}),
    ("from 255.255.255.255", {}, {"src": "255.255.255.255"}),
    ("from 224.0.0.1", {}, {"src": "224.0.0.1"}),
    ("from 240.0.0.9", {}, {"src": "240.0.0.9"}),
    ("from 0.0.0.9", {}, {"src": "0.0.0.9"}),
    ("from 127.0.0.1", {}, {"src": "127.0.0.1"}),
    ("from our own address", {}, {"src": None}),
]


def _syn(c: Conn, eth: dict[str, str], ip: dict[str, str | None]) -> Ether:
    ip = {k: (c.link.env.addr if v is None else v) for k, v in ip.items()}
    f = c.frame("S", ack=0, ip=ip, tcp={"options": [("MSS", 1460)]})
    for k, v in eth.items():
        setattr(f[Ether], k, v)
    return fix(f)


@pytest.mark.parametrize("what,eth,ip", NOT_OURS + NEVER_ANSWERED, ids=lambda x: x)
def test_addressing_syn_never_answered(
    env: HostEnv, link: RawLink, what: str, eth: dict[str, str], ip: dict[str, str | None]
) -> None:
    c = Conn(link)
    before = env.stats()
    link.send(_syn(c, eth, ip))
    link.recv(c.sport, first=0.3)
    d = delta(env, before)
    assert d.get("tx_frames", 0) == 0 and d.get("syn", 0) == 0, f"{what}: answered: {d}"
    if (what, eth, ip) in NEVER_ANSWERED:
        assert d.get("drop_addr") == 1, f"{what}: {d}"
    else:  # handed on as not ours (other traffic may count as passed too)
        assert d.get("pass", 0) >= 1 and d.get("drop_addr", 0) == 0, f"{what}: {d}"


def test_replies_come_from_our_mac(env: HostEnv, link: RawLink) -> None:
    """Every frame the server emits has its own MAC as the Ethernet source, whatever MAC the
    frame it answers was sent to (only its own is answered at all)."""
    c = Conn(link)
    sa = c.handshake()
    assert sa[Ether].src == env.topo.server_mac
    _, frames = c.fetch(get("/5000"))
    assert frames and {f[Ether].src for f in frames} == {env.topo.server_mac}
