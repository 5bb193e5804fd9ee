"""A loopback HTTP server answering JSON, with switchable faults (status, garbage, delay)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonServer:
    """Serves `payload` as JSON on every GET; `status`, `raw`, `delay` inject faults."""

    def __init__(self) -> None:
        self.payload: Any = {}
        self.status = 200
        self.raw: bytes | None = None
        self.delay = 0.0
        self.requests: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    def start(self, port: int = 0) -> JsonServer:
        """Listen on 127.0.0.1 (a free port unless given)."""
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                sim.requests.append({"path": self.path, **dict(self.headers.items())})
                if sim.delay:
                    time.sleep(sim.delay)
                body = sim.raw if sim.raw is not None else json.dumps(sim.payload).encode()
                self.send_response(sim.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="json-sim", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/printer"
