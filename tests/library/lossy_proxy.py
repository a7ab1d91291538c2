"""A TCP proxy in front of the real identity server that can lose what the network loses.

Modes: "pass" (a normal connection), "swallow" (the request reaches identity and is carried
out, but the answer never comes back: the client times out), "hang" (the connection is
accepted and nothing is forwarded: identity never sees the request). Only the network is
faked; the identity service behind it is the real one.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class LossyProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._held += [client, upstream]
            # The mode is read for every chunk: a kept-alive connection obeys it too.
            threading.Thread(
                target=self._pump, args=(client, upstream, "hang"), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, "swallow"), daemon=True
            ).start()

    def _pump(self, source: socket.socket, target: socket.socket, drop_in: str) -> None:
        try:
            while chunk := source.recv(65536):
                if self.mode not in (drop_in, "hang"):
                    target.sendall(chunk)
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self._held:
            with contextlib.suppress(OSError):
                sock.close()
        self.listener.close()
