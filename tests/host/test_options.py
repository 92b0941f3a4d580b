"""Frontend options, each on a private server: --fast-close, --mss, --max-body, --ports."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hostenv import HostEnv
from rawlink import Conn, RawLink, flags_of, payload_of
from scapy.layers.inet import TCP
from slhttpd_expect import body, check_response, split_response

from linerate.host.frontend import sanitizer_findings
from linerate.host.wrk import parse_wrk, wrk_argv

MakeEnv = Callable[[Sequence[str]], HostEnv]


def _get(target: str, close: bool = False) -> bytes:
    conn = b"Connection: close\r\n" if close else b""
    return b"GET " + target.encode() + b" HTTP/1.1\r\nHost: t\r\n" + conn + b"\r\n"


def test_fast_close(make_env: MakeEnv) -> None:
    """--fast-close: the client's FIN after a close-mode response gets an RST, not an ACK."""
    env = make_env(["--fast-close"])
    link = RawLink(env)
    try:
        c = Conn(link)
        c.handshake()
        req = _get("/100", close=True)
        data, _ = c.fetch(req)
        check_response(data, 100, keepalive=False)
        c.cseq += len(req)
        replies = c.exchange(c.frame("FA"))
        assert [flags_of(r)[0] for r in replies] == ["R"], [flags_of(r) for r in replies]
    finally:
        link.close()
    r = env.client(wrk_argv(env.url("/1k"), seconds=2, conns=8, close=True), timeout=30)
    res = parse_wrk(r.stdout.decode())
    assert res.requests > 100 and res.socket_errors == {} and res.non_2xx == 0, res.output


def test_server_mss(make_env: MakeEnv) -> None:
    """--mss 536: announced in the SYN-ACK, and no segment is larger."""
    env = make_env(["--mss", "536"])
    link = RawLink(env)
    try:
        c = Conn(link)
        sa = c.handshake(mss=1460)
        assert dict(sa[TCP].options).get("MSS") == 536
        data, frames = c.fetch(_get("/20000"))
        check_response(data, 20000)
        assert max(len(payload_of(f)) for f in frames) <= 536
    finally:
        link.close()


def test_max_body(make_env: MakeEnv) -> None:
    env = make_env(["--max-body", "10000", "--default-body", "77"])
    link = RawLink(env)
    try:
        for target, status, size in (("/10000", 200, 10000), ("/10001", 413, 0), ("/", 200, 77)):
            c = Conn(link)
            c.handshake()
            data, _ = c.fetch(_get(target))
            got, _, rest = split_response(data)
            assert got == status, target
            if status == 200:
                assert rest == body(size)
    finally:
        link.close()


def test_sanitizer_report_is_detected() -> None:
    """The teardown check finds ASan/UBSan reports (so a sanitizer finding fails the tests)."""
    asan = "==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011"
    ubsan = "core/slhttpd.c:42:7: runtime error: left shift of negative value -1"
    lsan = "==1==ERROR: LeakSanitizer: detected memory leaks"
    for line in (asan, ubsan, lsan):
        assert sanitizer_findings(f"slhttpd-host: serving\n{line}\n") == [line]
    assert sanitizer_findings("slhttpd-host: stopping on signal 15\n") == []
