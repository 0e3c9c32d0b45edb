"""Leases on background work, so that several worker processes never do the same work twice.

A claim is a row of `work_claims`: a key naming the work (`autolabel-job:7`, a training), the
process holding it ("host:pid") and when its lease runs out. The holder renews the lease while
it works (`exclusive` does so from a thread) and deletes the row when done. A claim is taken
over when its lease ran out, or at once when its holder was a process of this host that no
longer exists: a worker killed with kill -9 leaves its work to the next one that asks, on its
own host at once and on any other after the lease.

A claim excludes every other holder, threads of the holding process included: a process that
asks again for what it holds is refused, so two threads of one worker never run the same work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from truthloop.storage.db import Database
from truthloop.storage.tables import WorkClaimRow, utcnow

log = logging.getLogger("truthloop.claims")

DEFAULT_LEASE_S = 60.0
# A lease is renewed this many times within its length, so a renewal or two may fail (a busy
# database) before the lease runs out under a holder that is still at work.
RENEWALS_PER_LEASE = 3


def this_process() -> str:
    """This process as a claim's (or a training's) holder: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_gone(holder: str | None) -> bool:
    """Whether `holder` ("host:pid") is a process of this host that no longer exists. A holder
    on another host is never known gone: its lease tells."""
    host, _, pid = (holder or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, under another user
        return False
    return _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """A process that exited but whose parent has not reaped it yet (Linux; elsewhere False):
    it answers os.kill(pid, 0) as a live one does, though it does no more work."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[:1] == ["Z"]
    except OSError:
        return False


class ClaimHeld(Exception):
    """The work is claimed by another holder (another worker, or another thread of this one)."""

    def __init__(self, key: str, holder: str, until: datetime):
        super().__init__(
            f"{key} is claimed by {holder} until {until:%Y-%m-%d %H:%M:%S} UTC"
            " (renewed while it works; taken over if that process dies)"
        )
        self.key = key
        self.holder = holder
        self.until = until


def try_claim(
    db: Database,
    key: str,
    *,
    lease_s: float,
    holder: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Claim `key` for `lease_s` seconds: True when it is now `holder`'s (this process by
    default), False while another holds it."""
    return _claim(db, key, lease_s, holder or this_process(), now or utcnow()) is None


def _claim(
    db: Database, key: str, lease_s: float, holder: str, now: datetime
) -> tuple[str, datetime] | None:
    """None when `key` is now `holder`'s; else who holds it and until when.

    Race-free in one transaction: the insert of a new claim waits on (PostgreSQL) or holds
    (SQLite, immediate) the lock of any concurrent one, and an existing row is read locked
    (FOR UPDATE; SQLite's write lock already covers it) before it is taken over."""
    until = now + timedelta(seconds=lease_s)
    with db.session(immediate=True) as session:
        row = None
        while row is None:  # again when the row was released between the two statements
            if _insert_new(session, db.dialect, key, holder, until, now):
                return None
            row = session.scalars(
                select(WorkClaimRow).where(WorkClaimRow.key == key).with_for_update()
            ).first()
        if row.until > now and not process_gone(row.holder):
            return row.holder, row.until
        log.info("%s: taking over the claim of %s (lease until %s)", key, row.holder, row.until)
        row.holder, row.until, row.claimed_at = holder, until, now
        return None


def _insert_new(
    session: Session, dialect: str, key: str, holder: str, until: datetime, now: datetime
) -> bool:
    """Insert the claim unless a row for `key` exists; whether it was inserted."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(WorkClaimRow)
        .values(key=key, holder=holder, until=until, claimed_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(WorkClaimRow.key)  # a row back when inserted (psycopg gives no rowcount)
    )
    return session.execute(statement).scalar_one_or_none() is not None


def renew(db: Database, key: str, *, lease_s: float, holder: str | None = None) -> bool:
    """Extend `holder`'s lease on `key` by `lease_s` from now; False when the claim is no
    longer its (taken over after its lease ran out, or released)."""
    with db.session() as session:
        result = session.execute(
            update(WorkClaimRow)
            .where(WorkClaimRow.key == key, WorkClaimRow.holder == (holder or this_process()))
            .values(until=utcnow() + timedelta(seconds=lease_s))
        )
        return bool(getattr(result, "rowcount", 0))


def release(db: Database, key: str, *, holder: str | None = None) -> None:
    """Give up `holder`'s claim on `key` (nothing when it is not, or no longer, its)."""
    with db.session() as session:
        session.execute(
            delete(WorkClaimRow).where(
                WorkClaimRow.key == key, WorkClaimRow.holder == (holder or this_process())
            )
        )


def current(db: Database, key: str) -> tuple[str, datetime] | None:
    """Who holds `key` and until when, or None when nobody has claimed it."""
    with db.session() as session:
        row = session.get(WorkClaimRow, key)
        return (row.holder, row.until) if row is not None else None


@contextmanager
def exclusive(db: Database, key: str, *, lease_s: float = DEFAULT_LEASE_S) -> Iterator[None]:
    """Claim `key` or raise ClaimHeld; renew every lease_s/3 from a daemon thread while the
    block runs; release on exit (also on exception)."""
    holder = this_process()
    held = _claim(db, key, lease_s, holder, utcnow())
    if held is not None:
        raise ClaimHeld(key, *held)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_keep_renewing, args=(db, key, lease_s, holder, stop),
        name=f"claim {key}", daemon=True,
    )
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        release(db, key, holder=holder)


def _keep_renewing(
    db: Database, key: str, lease_s: float, holder: str, stop: threading.Event
) -> None:
    while not stop.wait(lease_s / RENEWALS_PER_LEASE):
        try:
            if not renew(db, key, lease_s=lease_s, holder=holder):
                # Nothing can stop the work under way from here; it is told in the log, and
                # the work itself must stay safe to do twice (its commit is one transaction).
                log.error("%s: the claim was lost (its lease ran out); another worker may"
                          " be doing the same work", key)
                return
        except Exception:
            log.warning("%s: renewing the claim failed; trying again", key, exc_info=True)
