"""An HTTP proxy in front of the real identity server, for what only another version of
identity or a slow network would do: rename a field of an answer on its way, or hold one
kind of request past the library's timeout. The identity behind it is the real one."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable

import requests


class IdentityProxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        upstream: str,
        *,
        rewrite: Callable[[str, dict], dict] | None = None,
        hold: Callable[[str, str], bool] | None = None,
        hold_seconds: float = 3.0,
        reply: Callable[[str, str], tuple[int, dict] | None] | None = None,
    ) -> None:
        """`rewrite(path, answer)`: changes a JSON answer; `hold(method, path)`: whether to
        forward that request only after `hold_seconds` (the client has given up by then,
        identity still carries it out); `reply(method, path)`: a (status, JSON) answer given
        instead of forwarding (what identity says to a request that meets another), or None."""
        self.upstream, self.rewrite, self.hold, self.hold_seconds = (
            upstream,
            rewrite,
            hold,
            hold_seconds,
        )
        self.reply = reply
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: IdentityProxy

    def log_message(self, *args) -> None:
        pass

    def _forward(self) -> None:
        method, proxy = self.command, self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        own = proxy.reply(method, self.path) if proxy.reply else None
        if own is not None:
            self._send(own[0], "application/problem+json", json.dumps(own[1]).encode())
            return
        if proxy.hold and proxy.hold(method, self.path):
            time.sleep(proxy.hold_seconds)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        answer = requests.request(
            method, proxy.upstream + self.path, data=body, headers=headers, timeout=10
        )
        content = answer.content
        if proxy.rewrite and "json" in answer.headers.get("Content-Type", ""):
            content = json.dumps(proxy.rewrite(self.path, answer.json())).encode()
        self._send(answer.status_code, answer.headers.get("Content-Type", "text/plain"), content)

    def _send(self, status: int, content_type: str, content: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except OSError:
            pass  # the client gave up waiting: what a lost answer looks like

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward
