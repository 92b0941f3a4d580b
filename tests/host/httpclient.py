"""http.client from the client namespace, reconnecting when the server closes."""

from __future__ import annotations

import http.client
import socket

from hostenv import HostEnv


class Client:
    """An http.client connection whose socket lives in the client namespace; reconnects when
    the server switches to close mode (it does after SL_CONN_SPAN bytes on a connection)."""

    def __init__(self, env: HostEnv, timeout: float = 10.0, nodelay: bool = False) -> None:
        self.env = env
        self.timeout = timeout
        self.nodelay = nodelay
        self.conn: http.client.HTTPConnection | None = None
        self.connections = 0

    def get(self, target: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.env.addr, 80, timeout=self.timeout)
            self.conn.sock = self.env.connect(timeout=self.timeout)
            if self.nodelay:
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections += 1
        self.conn.request(method, target)
        resp = self.conn.getresponse()
        data = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            self.close()
        return resp.status, headers, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
