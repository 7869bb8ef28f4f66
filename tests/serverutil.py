"""A real Mnemo server on a free loopback port, in a background thread, for tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

import mnemo
from mnemo.config import Settings, load_settings
from mnemo.server.app import create_app

DOCS = {
    "notes/whatsapp.md": (
        "# Acquisitions\n\n"
        "Facebook acquired WhatsApp in 2014 for 19 billion dollars. "
        "The deal was announced in February of that year.\n"
    ),
    "notes/tides.md": (
        "# Tides\n\n"
        "Tides are caused mainly by the gravitational pull of the Moon on the oceans. "
        "Spring tides happen when the Sun and the Moon line up.\n"
    ),
    "projects/falcon.md": (
        "# Project Falcon\n\n"
        "Project Falcon's launch date is 12 March 2027. The Falcon team has six engineers.\n"
    ),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_library(root: Path, **server: Any) -> Settings:
    """``DOCS`` written under ``root/docs`` and indexed into ``root/home``; the settings."""
    for name, text in DOCS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "allowed").mkdir()
    settings = load_settings(
        root / "home",
        {"ingest": {"workers": 1}, "server": {"allowed_roots": [str(root / "allowed")], **server}},
    )
    report = mnemo.add([root / "docs"], settings)
    assert report.counts["indexed"] == len(DOCS)
    return settings


@contextmanager
def serving(settings: Settings, app: Any = None) -> Iterator[str]:
    """Run ``app`` (by default a new one for ``settings``) with uvicorn until the block ends;
    yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app or create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def serve_process(
    env: dict[str, str], timeout: float = 90
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`mnemo serve` as its own process (as a user runs it) on a free port, with ``env``;
    yields the process and its base URL once /healthz answers; stopped when the block ends."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemo", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
