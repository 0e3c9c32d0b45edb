"""Real services for tests: PostgreSQL at 127.0.0.1:5432 and an S3 server (moto) on loopback.

Each is started when it is not running (PostgreSQL by its Debian cluster script); a test that
needs one is skipped, saying why, only when it cannot be started.
"""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN_URL = os.environ.get("TRUTHLOOP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def postgres_available() -> str | None:
    """None when PostgreSQL answers (starting it if needed), else the reason it does not."""
    try:
        _pg_connect(PG_ADMIN_URL).close()
        return None
    except Exception as first:
        versions = [os.path.basename(p) for p in glob.glob("/etc/postgresql/*")]
        for version in versions:
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                capture_output=True, timeout=60, check=False,
            )
        # Another pytest-xdist worker may be starting the same cluster: then this start
        # returned at once, and the server answers a few seconds later.
        deadline = time.monotonic() + (30 if versions else 0)
        while True:
            try:
                _pg_connect(PG_ADMIN_URL).close()
                return None
            except Exception:
                if time.monotonic() >= deadline:
                    return (
                        f"PostgreSQL at {PG_ADMIN_URL} is unreachable and would not start: {first}"
                    )
                time.sleep(0.5)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    name = f"truthloop_test_{uuid.uuid4().hex[:12]}"
    with _pg_connect(PG_ADMIN_URL) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_connect(PG_ADMIN_URL) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[str]:
    """An S3-speaking server (moto) on loopback; yields its endpoint URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:  # pragma: no cover - the test extra installs it
        pytest.skip(f"moto[server] is not installed: {error}")
    # Port 0: the server binds a free port itself. A port from free_port() could be taken by
    # another pytest-xdist worker before the server binds it, and then start() waits forever.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    finally:
        server.stop()
