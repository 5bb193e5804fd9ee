"""Plain HTTP GETs on the websocket port: serves the dashboard's static files.

The websocket server calls `handle_http(connection, request, ...)` from its
`process_request` hook; a websocket upgrade passes through (None), anything else is
answered here. The files are plain ES modules: no build step on the server.
"""

from __future__ import annotations

import email.utils
import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}

# The page only talks to its own origin (the websocket on the same port).
CSP = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class StaticFile:
    """A file's bytes with the headers that go with it."""

    body: bytes
    content_type: str
    etag: str


def is_upgrade(request: Request) -> bool:
    """True when the request asks for a websocket (the server must handle it)."""
    upgrade = request.headers.get("Upgrade", "")
    return "websocket" in upgrade.lower()


def resolve(path: str, root: Path = STATIC_DIR) -> Path | None:
    """Map a URL path to a file under `root`, or None (unknown, hidden or outside root)."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        return None
    rel = path.lstrip("/") or "index.html"
    if rel.endswith("/"):
        rel += "index.html"
    parts = rel.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") or "\\" in p for p in parts):
        return None
    root = root.resolve()
    candidate = (root / rel).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


@lru_cache(maxsize=128)
def _load(path: Path, mtime_ns: int) -> StaticFile:
    body = path.read_bytes()
    ctype = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:16] + f'-{mtime_ns}"'
    return StaticFile(body=body, content_type=ctype or "application/octet-stream", etag=etag)


def load(path: Path) -> StaticFile:
    """Read a static file (cached while its mtime is unchanged)."""
    return _load(path, path.stat().st_mtime_ns)


def _headers(ctype: str, length: int, extra: dict[str, str] | None = None) -> Headers:
    h = Headers()
    h["Date"] = email.utils.formatdate(usegmt=True)
    h["Content-Type"] = ctype
    h["Content-Length"] = str(length)
    h["Cache-Control"] = "no-cache"
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    h["Content-Security-Policy"] = CSP
    h["Connection"] = "close"
    for k, v in (extra or {}).items():
        h[k] = v
    return h


def text_response(status: int, reason: str, text: str) -> Response:
    """A small plain-text answer (errors)."""
    body = (text + "\n").encode()
    return Response(status, reason, _headers("text/plain; charset=utf-8", len(body)), body)


def static_response(request: Request, root: Path = STATIC_DIR) -> Response:
    """Answer a GET for a dashboard file: 200, 304 (ETag matched) or 404."""
    path = resolve(request.path, root)
    if path is None:
        return text_response(404, "Not Found", f"not found: {request.path.split('?', 1)[0]}")
    f = load(path)
    if request.headers.get("If-None-Match") == f.etag:
        return Response(304, "Not Modified", _headers(f.content_type, 0, {"ETag": f.etag}), b"")
    return Response(200, "OK", _headers(f.content_type, len(f.body), {"ETag": f.etag}), f.body)


HttpHook = Callable[[Request], Response | None]


def handle_http(
    connection: Any, request: Request, *, dashboard: bool = True, metrics: HttpHook | None = None
) -> Response | None:
    """websockets `process_request` hook body: None lets a websocket upgrade through.

    `metrics` answers `/metrics` when the integrations turn it on (None: not its path);
    `dashboard` is the `[websocket] dashboard` key.
    """
    if is_upgrade(request):
        return None
    if metrics is not None and (resp := metrics(request)) is not None:
        return resp
    if not dashboard:
        return text_response(404, "Not Found", "the dashboard is turned off on this hub")
    return static_response(request)
