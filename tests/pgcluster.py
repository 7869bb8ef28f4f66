"""A throw-away PostgreSQL cluster on a Unix socket, from Debian's ``postgresql``
package (``initdb`` and ``pg_ctl``): for the tests and benchmarks that run the
catalog on PostgreSQL. Nothing listens on TCP.

PostgreSQL refuses to run as root; as root the cluster runs as the
``postgres`` user (which the Debian package creates) in a folder it owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(versions[0]).parent if versions else None


def _as_owner(command: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else command


@contextmanager
def cluster(base: Path | None = None) -> Iterator[str]:
    """Start a cluster; yield the URL of its ``postgres`` database (superuser,
    trust on the socket); stop and delete it afterwards."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        pwd.getpwnam(user)  # KeyError when the package did not create it
        # root's pytest folders are private (0700): the server needs a folder it can reach.
        base = Path(tempfile.mkdtemp(prefix="mnemo-pg-"))
        shutil.chown(base, user)
    elif base is None:
        base = Path(tempfile.mkdtemp(prefix="mnemo-pg-"))
    data, sock = base / "data", base / "sock"
    for folder in (data, sock):
        folder.mkdir(exist_ok=True)
        if user:
            shutil.chown(folder, user)
    run = lambda *args: subprocess.run(
        _as_owner([str(a) for a in args], user), check=True, capture_output=True, text=True
    )
    run(
        bin_dir / "initdb",
        "-D",
        data,
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--locale=C",
    )
    options = (
        f"-k {sock} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    run(bin_dir / "pg_ctl", "-D", data, "-o", options, "-l", base / "log", "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={sock}"
    finally:
        subprocess.run(
            _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], user),
            capture_output=True,
            check=False,  # already stopped is fine
        )
        shutil.rmtree(base, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A fresh, empty database on the cluster; its URL."""
    from sqlalchemy import create_engine, text

    name = "t_" + uuid.uuid4().hex[:12]
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return server_url.replace("/postgres?", f"/{name}?", 1)
