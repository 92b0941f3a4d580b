"""wrk's summary comes from its Lua done() hook as JSON (a real wrk against a real
HTTP server on loopback), whatever units wrk's own text would use."""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from linerate.host.wrk import parse_wrk, wrk_argv


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's name
        status = 404 if self.path == "/missing" else 200
        body = b"x" * 64
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (make deps)")
@pytest.mark.parametrize(("path", "non_2xx"), [("/ok", False), ("/missing", True)])
def test_real_wrk_summary_as_json(server, path, non_2xx):
    argv = wrk_argv(server + path, seconds=1, conns=2)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    res = parse_wrk(proc.stdout)
    assert res.requests > 0 and 0.9 < res.seconds < 3.0
    assert res.rps == pytest.approx(res.requests / res.seconds)
    assert res.bytes > res.requests * 64
    assert res.socket_errors == {}
    assert (res.non_2xx == res.requests) if non_2xx else (res.non_2xx == 0)
    assert 0 < res.latency_us["p50"] <= res.latency_us["max"]


def test_a_summary_without_the_json_line_is_an_error():
    with pytest.raises(AssertionError, match="no wrk JSON summary"):
        parse_wrk("Running 1m test @ http://x\n  10 requests in 1.00m, 1.00KB read\n")
