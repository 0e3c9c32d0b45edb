"""`truthloop serve`: the labeling portal, its REST API and the background worker;
`truthloop background`: the background worker alone."""

from __future__ import annotations

import contextlib
import os
import socket
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from truthloop.cli.context import open_project
from truthloop.cli.output import console, errors_as_messages
from truthloop.errors import InputError
from truthloop.runtime import DEFAULT_INTERVAL_S, DEFAULT_THREADS
from truthloop.storage.db import POOL_OVERFLOW, REQUEST_THREADS
from truthloop.storage.project import Project

if TYPE_CHECKING:
    import uvicorn

APP_FACTORY = "truthloop.web.app:app_from_environment"


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    https_only: Annotated[
        bool, typer.Option("--https-only", help="Send the session cookie over HTTPS only.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes (PostgreSQL only; a SQLite project is served by one).",
        ),
    ] = 1,
    background: Annotated[
        bool,
        typer.Option(
            help="Also run a background worker, which moves automated-labeling jobs on (more"
            " may run beside it, from `truthloop background`; they share the task queue).",
        ),
    ] = True,
) -> None:
    """Start the portal (workers label, managers follow jobs), the API (/docs) and the
    background worker."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from truthloop.runtime.background import start_process
    from truthloop.web.auth import secret_key

    with errors_as_messages(False):
        project = open_project(ctx)
        check_workers(project, workers)
        # Made here, once: worker processes starting together would race to create it.
        secret_key(project)
        # Each worker process opens the project itself, from these settings.
        os.environ["TRUTHLOOP_HOME"] = str(project.home)
        os.environ["TRUTHLOOP_DATABASE_URL"] = project.db.url
        os.environ["TRUTHLOOP_HTTPS_ONLY"] = "true" if https_only else "false"
    console.print(Text(f"truthloop portal on http://{host}:{port}  (API docs: /docs)"))
    worker = start_process() if background else None
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        server_header=False,
        # uvicorn would believe X-Forwarded-For from loopback by default; the portal judges it
        # itself, from TRUTHLOOP_TRUSTED_PROXIES alone (truthloop.web.addresses).
        proxy_headers=False,
    )
    try:
        if workers == 1:
            uvicorn.Server(config).run()
        else:
            Multiprocess(config, sockets=[shared_socket(config)]).run()
    finally:
        if worker is not None:
            worker.terminate()
            worker.join(timeout=10)


def background(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between rounds of due work.")
    ] = DEFAULT_INTERVAL_S,
    threads: Annotated[
        int, typer.Option(min=1, help="Threads taking tasks from the queue (an iteration"
                          " trains on one while the others do the rest).")
    ] = DEFAULT_THREADS,
    once: Annotated[
        bool, typer.Option("--once", help="Do what is due now, here, then stop.")
    ] = False,
) -> None:
    """Run a background worker: it moves automated-labeling jobs on once people have labeled
    what was released, runs queued imports and sends events. Several may run, here or on other
    hosts (TRUTHLOOP_QUEUE_URL=redis://... and PostgreSQL); they never do the same work twice.
    `truthloop serve` runs one already unless --no-background."""
    import logging

    from truthloop.runtime.background import BackgroundWorker, run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with errors_as_messages(False):
        project = open_project(ctx)
        if once:
            for job_id, iteration in BackgroundWorker(project).run_once():
                console.print(Text(
                    f"job {job_id}: iteration {iteration.number}, {iteration.human_labeled} by"
                    f" people, {iteration.machine_labeled} by the machine,"
                    f" {iteration.remaining} left"
                ))
        else:
            console.print(Text(f"background worker on {project.home}; Ctrl+C stops it"))
            with contextlib.suppress(KeyboardInterrupt):
                run_worker(project, interval_s=interval, threads=threads)


def shared_socket(config: uvicorn.Config) -> socket.socket:
    """The listening socket the worker processes share, declared TCP.

    uvicorn binds it with protocol 0, and asyncio sets TCP_NODELAY only on connections accepted
    from a socket that says IPPROTO_TCP; without it every keep-alive response waits about 40 ms
    for the client's delayed ACK (uvicorn issue #3149). One worker binds its own socket and
    does not need this.
    """
    sock = config.bind_socket()
    return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())


def check_workers(project: Project, workers: int) -> None:
    """SQLite lets one writer in at a time, and only the writers of one process queue for it
    without sleeping (storage/db.py holds them on a lock in the process; writers of other
    processes would fall back on SQLite's sleep-and-retry wait, which turns a burst of leases
    and submits into long stalls). So a SQLite project is served by one process, whose event
    loop and thread pool take the concurrent requests. PostgreSQL locks rows, not the whole
    database, so its workers scale with the cores."""
    if workers > 1 and project.db.dialect == "sqlite":
        raise InputError(
            f"--workers {workers}: a SQLite project is served by one process (SQLite lets one"
            " writer in at a time). Serve with --workers 1, or move the project to PostgreSQL"
            " (TRUTHLOOP_DATABASE_URL) to serve it with several worker processes."
        )
    if project.db.dialect == "postgresql":
        _check_connections(project, workers)


def _check_connections(project: Project, workers: int) -> None:
    """Each server process keeps a connection per request it can run at once (storage/db.py),
    and the background worker's process its own few: refused before starting when PostgreSQL
    would turn some away under load."""
    from sqlalchemy import text

    per_process = REQUEST_THREADS + POOL_OVERFLOW
    needed = workers * per_process + POOL_OVERFLOW
    with project.db.engine.connect() as connection:
        allowed = int(connection.execute(text("SHOW max_connections")).scalar_one())
    if needed > allowed:
        raise InputError(
            f"--workers {workers}: each worker process keeps up to {per_process} connections to"
            f" PostgreSQL, {needed} in all with the background worker, but the server allows"
            f" {allowed} (max_connections). Serve with fewer workers or raise max_connections."
        )
