"""`truthloop serve`: one process for SQLite, worker processes for PostgreSQL, and what they
share."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import event, text
from typer.testing import CliRunner

from tests.services import free_port, postgres_database
from truthloop import people
from truthloop.cli.main import app
from truthloop.cli.serve import shared_socket
from truthloop.storage.db import POOL_OVERFLOW, REQUEST_THREADS
from truthloop.storage.project import Project

runner = CliRunner()


def test_a_sqlite_project_is_served_by_one_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Project.init(home).close()
    result = runner.invoke(app, ["--home", str(home), "serve", "--workers", "3"])
    assert result.exit_code == 1
    message = " ".join(result.output.split())  # rich wraps long lines
    assert "--workers 3: a SQLite project is served by one process" in message
    assert "TRUTHLOOP_DATABASE_URL" in message
    refused = runner.invoke(app, ["--home", str(home), "serve", "--workers", "0"])
    assert refused.exit_code == 2
    assert "greater than or equal to 1" in " ".join(refused.output.split())


def test_connections_to_the_shared_socket_send_without_delay() -> None:
    """Nagle's algorithm off (TCP_NODELAY), or each keep-alive response waits ~40 ms."""
    config = uvicorn.Config("truthloop.web.app:app_from_environment", host="127.0.0.1", port=0)
    listener = shared_socket(config)

    async def accepted_nodelay() -> int:
        options: list[int] = []

        def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            options.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection(*listener.getsockname())
            while not options:
                await asyncio.sleep(0.01)
            writer.close()
        return options[0]

    # On a thread of its own: a browser test's Playwright may hold this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, accepted_nodelay()).result() == 1


@pytest.mark.postgres
def test_workers_that_would_need_more_connections_than_postgresql_allows_are_refused(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    with postgres_database() as url:
        with Project.init(home, database_url=url) as project, project.session() as session:
            allowed = int(session.execute(text("SHOW max_connections")).scalar_one())
        per_process = REQUEST_THREADS + POOL_OVERFLOW
        workers = allowed // per_process + 1  # one more than the server has room for
        result = runner.invoke(
            app, ["--home", str(home), "serve", "--workers", str(workers)],
            env={"TRUTHLOOP_DATABASE_URL": url},
        )
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"--workers {workers}: each worker process keeps up to {per_process}" in message
    assert f"{workers * per_process + POOL_OVERFLOW} in all" in message
    assert f"the server allows {allowed} (max_connections)" in message


@pytest.mark.postgres
def test_a_loaded_server_keeps_its_connections(tmp_path: Path) -> None:
    """As many threads as the server runs requests on, each taking a connection again and
    again: the pool opens one per thread at most, and keeps them."""
    with postgres_database() as url, Project.init(tmp_path / "home", database_url=url) as project:
        opened: list[object] = []
        event.listen(project.db.engine, "connect", lambda conn, record: opened.append(conn))

        def requests(_: int) -> None:
            for _ in range(25):
                with project.session() as session:
                    session.execute(text("SELECT pg_sleep(0.001)"))

        with ThreadPoolExecutor(REQUEST_THREADS) as pool:
            list(pool.map(requests, range(REQUEST_THREADS)))
        assert 1 <= len(opened) <= REQUEST_THREADS


@pytest.mark.postgres
def test_worker_processes_serve_a_postgresql_project(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with postgres_database() as url:
        with Project.init(home, database_url=url) as project, project.session() as session:
            user = people.add_user(session, "wendy", password=None)
            token = people.create_api_token(session, user, "test")
        port = free_port()
        env = {**os.environ, "TRUTHLOOP_DATABASE_URL": url}
        command = [str(Path(sys.executable).with_name("truthloop")), "--home", str(home),
                   "serve", "--port", str(port), "--workers", "2"]
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while log.read_text().count("Application startup complete") < 2:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["username"] == "wendy"
        finally:
            server.terminate()
            server.wait(timeout=30)
