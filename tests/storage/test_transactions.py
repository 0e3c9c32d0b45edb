"""SQLite transactions: `immediate` ones hold the write lock from the start; the others begin at
their first write, so reading first never makes a later write fail."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from truthloop.storage.project import Project
from truthloop.storage.tables import TeamRow


def _database_file(project: Project) -> str:
    return project.db.url.removeprefix("sqlite:///")


def test_an_immediate_session_holds_the_write_lock_from_its_start(
    sqlite_project: Project,
) -> None:
    other = sqlite3.connect(_database_file(sqlite_project), timeout=0.05, isolation_level=None)
    with sqlite_project.db.session(immediate=True) as session:
        session.scalar(select(func.count()).select_from(TeamRow))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")  # free again once the session has ended
    other.execute("ROLLBACK")
    other.close()


def test_a_session_that_reads_then_writes_survives_a_commit_in_between(
    sqlite_project: Project,
) -> None:
    db = sqlite_project.db
    with db.session() as first:
        assert first.scalar(select(func.count()).select_from(TeamRow)) == 0
        with db.session() as second:
            second.add(TeamRow(name="b"))
        first.add(TeamRow(name="a"))
    with db.session() as session:
        assert sorted(session.scalars(select(TeamRow.name))) == ["a", "b"]


def test_a_failed_session_stores_nothing(sqlite_project: Project) -> None:
    with pytest.raises(RuntimeError), sqlite_project.db.session() as session:
        session.add(TeamRow(name="a"))
        session.flush()
        raise RuntimeError
    with sqlite_project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(TeamRow)) == 0
