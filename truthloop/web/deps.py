"""Typed dependencies, so that a route's signature says what it needs and who may call it.

Those that do no I/O are `async def`: FastAPI runs a plain `def` dependency on its thread pool,
and a hop there and back for each would cost a worker's request more than its own work does.
The sign-in is read on the event loop too when that read is a local SQLite file (see
`optional_user`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from truthloop import people
from truthloop.errors import NotSignedIn, PermissionDenied
from truthloop.storage.db import Database
from truthloop.storage.project import Project
from truthloop.storage.tables import UserRow
from truthloop.web.auth import bearer_token, session_secret


async def get_project(request: Request) -> Project:
    project: Project = request.app.state.project
    return project


ProjectDep = Annotated[Project, Depends(get_project)]


async def get_db(project: ProjectDep) -> Database:
    return project.db


DbDep = Annotated[Database, Depends(get_db)]


def get_session(project: ProjectDep) -> Iterator[Session]:
    with project.session() as session:
        yield session


# scope="function": the transaction commits before the response is sent, so a client is never
# told that something was stored before it is.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def optional_user(
    request: Request, project: ProjectDep, after_response: BackgroundTasks
) -> UserRow | None:
    token = bearer_token(request)
    secret = session_secret(request)
    if token is None and secret is None:
        return None
    if project.db.dialect == "sqlite":
        # A read of a local WAL database never waits on a writer, and costs less than the hop
        # to a worker thread and back that a plain `def` takes on every request (thread
        # hand-offs fell from 12 % to 9 % of a loaded server's GIL time, about 5 % more
        # answers a second: benchmarks/annotators.py). A database across a network is asked
        # from a worker thread, so that a slow answer stalls no other request.
        return _signed_in(project, token, secret, after_response)
    return await run_in_threadpool(_signed_in, project, token, secret, after_response)


def _signed_in(
    project: Project, token: str | None, secret: str | None, after_response: BackgroundTasks
) -> UserRow | None:
    # Reads only, before the route runs: the route may then lease or submit in the labeling
    # service's own transactions without waiting on this one (SQLite allows one writer at a
    # time), and on PostgreSQL they cost no BEGIN and COMMIT.
    with project.db.read_session() as session:
        if token is None:
            # One read: the session row joined to its user, live and active or nothing.
            return people.session_user(session, secret) if secret is not None else None
        # A request that brings a token is judged by it alone, never by a cookie beside it.
        owner = people.token_owner(session, token) if token else None
    if owner is None:
        raise NotSignedIn("the API token is not valid (it was revoked, or it expired)")
    if owner.use_due:
        # Bookkeeping, written once the response is sent: no request waits on it.
        after_response.add_task(people.record_token_use, project.db, token)
    return owner.user


OptionalUser = Annotated[UserRow | None, Depends(optional_user)]


async def current_user(user: OptionalUser) -> UserRow:
    if user is None:
        raise NotSignedIn("sign in first")
    return user


CurrentUser = Annotated[UserRow, Depends(current_user)]


async def require_manager(user: CurrentUser) -> UserRow:
    if not people.is_manager(user):
        raise PermissionDenied("only managers and admins may do this")
    return user


RequireManager = Annotated[UserRow, Depends(require_manager)]
