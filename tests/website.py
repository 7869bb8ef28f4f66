"""A small web site on a free loopback port, for tests of adding pages by URL.

Pages are set per test (``site.pages["/a.html"] = Page(...)``) and can be changed while
it runs; every request is recorded (path and headers) so a test can tell what Mnemo
asked for. It honours ``If-None-Match`` (304), redirects, and can send a body slowly,
or a large one without a Content-Length.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str | None = None
    location: str | None = None  # a redirect (status 302 unless given)
    delay: float = 0.0  # seconds between 1 KB pieces of the body
    stream: int = 0  # send this many bytes of filler without a Content-Length


@dataclass
class Site:
    url: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            page = site.pages.get(self.path)
            if page is None:
                return self._send(404, b"not found", "text/plain")
            if page.location is not None:
                self.send_response(page.status if page.status != 200 else 302)
                self.send_header("Location", page.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if page.etag and self.headers.get("If-None-Match") == page.etag:
                self.send_response(304)
                self.send_header("ETag", page.etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if page.stream:
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                sent, piece = 0, b"x" * 65536
                try:
                    while sent < page.stream:
                        self.wfile.write(piece)
                        sent += len(piece)
                except OSError:
                    pass
                return None
            return self._send(page.status, page.body, page.content_type, page)

        def _send(self, status: int, body: bytes, kind: str, page: Page | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if page is not None and page.etag:
                self.send_header("ETag", page.etag)
            self.end_headers()
            if page is None or not page.delay:
                self.wfile.write(body)
                return
            try:
                for start in range(0, len(body), 1024):
                    self.wfile.write(body[start : start + 1024])
                    self.wfile.flush()
                    time.sleep(page.delay)
            except OSError:
                pass

    return Handler


@contextmanager
def serving_site() -> Iterator[Site]:
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
