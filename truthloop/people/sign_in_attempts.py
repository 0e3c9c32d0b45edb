"""Failed sign-ins counted in the database, so that every portal process sees the same counts
(the policy that turns them into a wait is `truthloop.people.throttle`)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from truthloop.people.throttle import POLICY, Attempts, ThrottlePolicy
from truthloop.storage.tables import SignInAttemptRow

Row = SignInAttemptRow


def _name_hash(username: str) -> str:
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def attempts_for(
    session: Session, username: str, address: str | None, now: datetime,
    policy: ThrottlePolicy = POLICY,
) -> Attempts:
    """The recent failures for `username`: from `address` and from every address."""
    name = _name_hash(username)
    cutoff = now - policy.forget_after
    pair = session.get(Row, (name, address or ""))
    total, last = session.execute(
        select(func.coalesce(func.sum(Row.failures), 0), func.max(Row.last_failed_at)).where(
            Row.name_hash == name, Row.last_failed_at >= cutoff
        )
    ).one()
    fresh = pair is not None and pair.last_failed_at is not None and pair.last_failed_at >= cutoff
    return Attempts(
        pair_failures=pair.failures if fresh and pair is not None else 0,
        pair_last_failed_at=pair.last_failed_at if fresh and pair is not None else None,
        name_failures=int(total),
        name_last_failed_at=last,
        known_address=pair is not None and pair.succeeded_at is not None
        and pair.succeeded_at >= now - policy.known_for,
    )


def _upsert(session: Session, values: dict[str, object], on_conflict: dict[str, object]) -> None:
    # One statement that inserts or updates: two portal processes failing the same name at
    # once must both count. SQLite and PostgreSQL spell it alike.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Row).values(**values)
    session.execute(
        statement.on_conflict_do_update(index_elements=[Row.name_hash, Row.address],
                                        set_=on_conflict)
    )


def record_failure(
    session: Session, username: str, address: str | None, now: datetime,
    policy: ThrottlePolicy = POLICY,
) -> None:
    cutoff = now - policy.forget_after
    stale = or_(Row.last_failed_at.is_(None), Row.last_failed_at < cutoff)
    _upsert(
        session,
        {"name_hash": _name_hash(username), "address": address or "", "failures": 1,
         "last_failed_at": now},
        {"failures": case((stale, 1), else_=Row.failures + 1), "last_failed_at": now},
    )
    # Names tried at random would each leave a row: those with nothing left to say go.
    session.execute(
        delete(Row).where(
            stale, or_(Row.succeeded_at.is_(None), Row.succeeded_at < now - policy.known_for)
        )
    )


def record_success(session: Session, username: str, address: str | None, now: datetime) -> None:
    """The pair's failures are forgiven, and the address is known for this name from now on."""
    _upsert(
        session,
        {"name_hash": _name_hash(username), "address": address or "", "failures": 0,
         "succeeded_at": now},
        {"failures": 0, "last_failed_at": None, "succeeded_at": now},
    )


