"""A claim on a job of 200,000 slots, on SQLite and on PostgreSQL: its plan walks the job's
waiting slots in claim order and stops at the first one the worker may take, so that it costs
what a claim on a job of a thousand slots costs (issue 18).

The job is loaded by a few INSERT ... SELECT over a generated series (seconds, where creating it
through the library takes minutes), analysed as create_job leaves a new job, and then brought
well under way without a new ANALYZE: the first fifth answered by bob and alice, the next
thousand slots given back by alice (waiting again and first by id, but never hers again), fifty
leased to carol, the rest waiting, and each of those leases recorded. Its statistics still say
every slot waits, the state in which PostgreSQL once took the primary key for as good a walk;
the plan test then runs ANALYZE, and holds the plan again.

Plans are held strictly and times loosely: the machine that runs the tests may be busy, and a
plan that reads the whole job takes 100 ms and more at this size, where the bound is 20.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from tests.labeling.conftest import seed
from tests.services import postgres_database
from truthloop.core.types import Classification
from truthloop.labeling import next_task, slots, submit
from truthloop.labeling.jobs import db_time
from truthloop.people import add_member, add_user
from truthloop.storage.project import Project
from truthloop.storage.tables import TaskLeaseRow

SLOTS = 200_000
ANSWERED = SLOTS // 5  # half by bob, then half by alice
RELEASED = 1_000  # given back by alice
HELD = 50  # leased to carol
CLAIMS = 20
# The median claim, and the median answer; one that read the job's slots would take 100 ms.
BOUND_S = 0.020
FRESH = ("dave", "erin", "frank", "grace")  # one worker for each test, new to the job

SERIES = {
    "postgresql": "SELECT n FROM generate_series(1, :count) AS s(n)",
    "sqlite": (
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :count)"
        " SELECT n FROM s"
    ),
}


@dataclass(frozen=True)
class BigJob:
    project: Project
    job: int
    users: dict[str, int]
    released: range  # the task ids of the slots alice gave back

    def claim_params(self, worker: str) -> dict[str, Any]:
        now = db_time(None)
        return {
            "job": self.job,
            "worker": self.users[worker],
            "now": now,
            "expires": now + timedelta(minutes=5),
            "max_held": 1000,
        }


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def big(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BigJob]:
    """One job for the whole module (it takes seconds to load): each test claims as workers of
    its own, and asserts what holds whichever of the others ran first."""
    home = tmp_path_factory.mktemp("claims") / "home"
    database: AbstractContextManager[str] = (
        nullcontext(f"sqlite:///{home / 'truthloop.db'}")
        if request.param == "sqlite"
        else postgres_database()
    )
    with database as url, Project.init(home, database_url=url) as project:
        yield _load(project)


def _load(project: Project) -> BigJob:
    lab = seed(project)
    users = dict(lab.users)
    with project.session() as session:
        for name in FRESH:
            users[name] = add_user(session, name, password=None).id
            add_member(session, "crew", name)
    job = lab.job(max_concurrent_tasks=1000)
    with project.session() as session:
        first = _insert_slots(session, job)
    _analyze(project)
    segments = [  # (slots, status, worker, lease outcome)
        (ANSWERED // 2, "submitted", users["bob"], "submitted"),
        (ANSWERED // 2, "submitted", users["alice"], "submitted"),
        (RELEASED, "waiting", users["alice"], "released"),
        (HELD, "leased", users["carol"], None),
    ]
    now = db_time(None)
    with project.session() as session:
        _without_foreign_key_checks(session)
        for count, status, worker, outcome in segments:
            _progress(session, job, range(first, first + count), status, worker, outcome, now)
            first += count
        released = session.execute(
            text("SELECT min(task_id), max(task_id) FROM task_leases WHERE outcome = 'released'")
        ).one()
    return BigJob(project, job, users, range(released[0], released[1] + 1))


def _without_foreign_key_checks(session: Session) -> None:
    """On PostgreSQL, for the rest of the transaction: the rows loaded here agree with their
    foreign keys by construction, and checking them one row at a time would take most of the
    load's time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))


def _analyze(project: Project) -> None:
    with project.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def _insert_slots(session: Session, job: int) -> int:
    """SLOTS new images in the job's dataset and a waiting slot for each, in place of the job's
    own: the first image's id (they are numbered in a row)."""
    _without_foreign_key_checks(session)
    session.execute(text("DELETE FROM tasks WHERE job_id = :job"), {"job": job})
    session.execute(text("DELETE FROM job_items WHERE job_id = :job"), {"job": job})
    dataset, before = session.execute(
        text("SELECT dataset_id, max(id) FROM items GROUP BY dataset_id")
    ).one()
    series = SERIES[session.get_bind().dialect.name]
    now = db_time(None)
    session.execute(
        text(
            "INSERT INTO items (dataset_id, uri, width, height, depth, split, extra, created_at)"
            f" SELECT :dataset, '/big/' || n, 640, 480, 3, 'train', '{{}}', :now FROM ({series}) s"
        ),
        {"dataset": dataset, "count": SLOTS, "now": now},
    )
    first, last = session.execute(
        text("SELECT min(id), max(id) FROM items WHERE id > :before"), {"before": before}
    ).one()
    assert last - first + 1 == SLOTS
    values = {"job": job, "first": first, "count": SLOTS, "until": now + timedelta(days=10)}
    session.execute(
        text(
            "INSERT INTO job_items (job_id, item_id, batch, status)"
            f" SELECT :job, :first + n - 1, 0, 'open' FROM ({series}) s"
        ),
        values,
    )
    session.execute(
        text(
            "INSERT INTO tasks (job_id, item_id, slot, status, available_until)"
            f" SELECT :job, :first + n - 1, 0, 'waiting', :until FROM ({series}) s"
        ),
        values,
    )
    return int(first)


def _progress(
    session: Session,
    job: int,
    items: range,
    status: str,
    worker: int,
    outcome: str | None,
    now: datetime,
) -> None:
    """The slots of `items` in `status` after a lease to `worker`, which ended with `outcome`
    (None: it runs for another hour)."""
    leased_at = now - timedelta(minutes=1)
    expires = now + timedelta(hours=1) if outcome is None else leased_at + timedelta(minutes=5)
    values = {
        "job": job,
        "first": items[0],
        "last": items[-1],
        "status": status,
        "worker": worker,
        "leased_at": leased_at,
        "expires": expires,
        "ended": None if outcome is None else now,
        "outcome": outcome,
        "lease_expires_at": expires if status == "leased" else None,
        "submitted_at": now if status == "submitted" else None,
    }
    if status != "waiting":
        session.execute(
            text(
                "UPDATE tasks SET status = :status, worker_id = :worker, leased_at = :leased_at,"
                " lease_expires_at = :lease_expires_at, submitted_at = :submitted_at"
                " WHERE job_id = :job AND item_id BETWEEN :first AND :last"
            ),
            values,
        )
    session.execute(
        text(
            "INSERT INTO task_leases (task_id, job_id, item_id, worker_id, leased_at,"
            " expires_at, ended_at, outcome)"
            " SELECT id, job_id, item_id, :worker, :leased_at, :expires, :ended, :outcome"
            " FROM tasks WHERE job_id = :job AND item_id BETWEEN :first AND :last"
        ),
        values,
    )


@pytest.mark.postgres
def test_a_job_is_created_with_the_statistics_its_claims_are_planned_by(tmp_path: Path) -> None:
    with postgres_database() as url, Project.init(tmp_path / "home", database_url=url) as project:
        seed(project).job()
        with project.session() as session:
            known = session.scalar(
                text(
                    "SELECT most_common_vals::text FROM pg_stats"
                    " WHERE tablename = 'tasks' AND attname = 'status'"
                )
            )
    assert known == "{waiting}"


def test_the_claim_walks_the_waiting_slots_in_claim_order(big: BigJob) -> None:
    """With the statistics taken when the job was created, and with new ones."""
    for analysed in (False, True):
        if analysed:
            _analyze(big.project)
        with big.project.db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                _assert_sqlite_plan(conn, big.claim_params("erin"))
                continue
            for worker, skipped in (("erin", 0), ("alice", RELEASED)):
                explained = _pg_plans(conn, big.claim_params(worker))
                conn.rollback()
                for plan in explained:
                    walk = _assert_walks_in_claim_order(plan)
                    # It stops at the first slot the worker may take: for erin, the first
                    # waiting one; alice passes the ones she gave back, a probe of her leases
                    # each.
                    assert walk["Actual Rows"] == 1
                    assert walk.get("Rows Removed by Filter", 0) <= skipped


def _pg_plans(conn: Connection, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The claim's plan as PostgreSQL makes it for these values, and as it makes it once for any
    values (a statement psycopg has prepared may run that one): each run, in the caller's
    transaction, which rolls them back."""
    compiled = slots.CLAIM.compile(dialect=conn.dialect)
    values = compiled.construct_params(params)
    custom = conn.exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, values
    ).scalar_one()[0]
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    prepared = re.sub(r"%\((\w+)\)s", number, compiled.string)
    arguments = ", ".join(_pg_literal(values[name]) for name in names)
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    conn.exec_driver_sql(f"PREPARE claim AS {prepared}")
    generic = conn.exec_driver_sql(
        f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim({arguments})"
    ).scalar_one()[0]
    conn.exec_driver_sql("DEALLOCATE claim")
    return [custom, generic]


def _pg_literal(value: object) -> str:
    """One of the claim's values (numbers, times, a status) as a PostgreSQL constant."""
    if isinstance(value, datetime):
        return f"'{value.isoformat(sep=' ')}'::timestamp"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    assert isinstance(value, int)
    return str(value)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _assert_walks_in_claim_order(explained: dict[str, Any]) -> dict[str, Any]:
    """The plan reads no table whole and walks the slots' indexes (a bitmap would gather the
    job's slots before their order), joins nothing and sorts nothing but the leases that ran
    out; the walk of ix_tasks_waiting, which it returns."""
    nodes = list(_nodes(explained["Plan"]))
    scans = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes]
    assert not [scan for scan in scans if scan[0] == "Seq Scan"], scans
    tasks = [(kind, index) for kind, table, index in scans if table == "tasks" and "Scan" in kind]
    assert all(kind in ("Index Scan", "Index Only Scan") for kind, _ in tasks), tasks
    assert not [n["Node Type"] for n in nodes if n["Node Type"] in ("Nested Loop", "Hash")]
    assert not [n["Node Type"] for n in nodes if n["Node Type"].endswith("Join")]
    for sort in (n for n in nodes if n["Node Type"] == "Sort"):
        assert "ix_tasks_leased" in {n.get("Index Name") for n in _nodes(sort)}
        assert "ix_tasks_waiting" not in {n.get("Index Name") for n in _nodes(sort)}
    # Costed as reading a few rows: a plan costed over jit_above_cost (100,000) is compiled
    # before it runs, which takes longer than the claim.
    assert explained["Plan"]["Total Cost"] < 10_000
    walks = [n for n in nodes if n.get("Index Name") == "ix_tasks_waiting"]
    assert len(walks) == 1, scans
    return walks[0]


def _assert_sqlite_plan(conn: Connection, params: dict[str, Any]) -> None:
    compiled = slots.CLAIM.compile(dialect=conn.dialect)
    values = compiled.construct_params(params)
    ordered = [
        v.isoformat(sep=" ") if isinstance(v, datetime) else v
        for v in (values[name] for name in compiled.positiontup or ())
    ]
    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, tuple(ordered)).all()
    steps = [(parent, detail) for _, parent, _, detail in rows]
    details = [detail for _, detail in steps]
    assert not [d for d in details if d.startswith("SCAN")], details  # no table read whole
    assert [d for d in details if d.startswith("SEARCH tasks USING INDEX ix_tasks_waiting")]
    # The one sort is of the slots whose lease ran out, next to their search.
    for parent, detail in steps:
        if detail.startswith("USE TEMP B-TREE"):
            beside = [d for p, d in steps if p == parent]
            assert any("ix_tasks_leased (job_id=? AND lease_expires_at<?)" in d for d in beside)
            assert not [d for d in beside if "ix_tasks_waiting" in d]


def test_a_worker_is_never_handed_back_the_first_slots_they_gave_back(big: BigJob) -> None:
    db, job = big.project.db, big.job
    alice, bob = big.users["alice"], big.users["bob"]
    with big.project.session() as session:
        first_waiting = session.scalar(
            text("SELECT min(id) FROM tasks WHERE job_id = :job AND status = 'waiting'"),
            {"job": job},
        )
        first_for_alice = session.scalar(
            text(
                "SELECT min(t.id) FROM tasks t WHERE t.job_id = :job AND t.status = 'waiting'"
                " AND t.item_id NOT IN (SELECT item_id FROM task_leases WHERE worker_id = :w)"
            ),
            {"job": job, "w": alice},
        )
    assert first_waiting in big.released and first_for_alice > big.released[-1]
    task = next_task(db, job, alice)
    assert task is not None and task.task_id == first_for_alice
    task = next_task(db, job, bob)
    assert task is not None and task.task_id == first_waiting


def test_a_lease_that_ran_out_is_taken_back_before_the_first_waiting_slot(big: BigJob) -> None:
    db, job, carol = big.project.db, big.job, big.users["carol"]
    now = db_time(None)
    with big.project.session() as session:
        last = session.scalar(text("SELECT max(id) FROM tasks WHERE job_id = :job"), {"job": job})
        ran_out = {
            "task": last,
            "carol": carol,
            "at": now - timedelta(minutes=6),
            "until": now - timedelta(minutes=1),
        }
        session.execute(
            text(
                "UPDATE tasks SET status = 'leased', worker_id = :carol, leased_at = :at,"
                " lease_expires_at = :until WHERE id = :task"
            ),
            ran_out,
        )
        session.execute(
            text(
                "INSERT INTO task_leases (task_id, job_id, item_id, worker_id, leased_at,"
                " expires_at) SELECT id, job_id, item_id, :carol, :at, :until FROM tasks"
                " WHERE id = :task"
            ),
            ran_out,
        )
    task = next_task(db, job, big.users["frank"])
    assert task is not None and task.task_id == last
    lease = TaskLeaseRow
    with big.project.session() as session:
        ended = session.execute(
            select(lease.ended_at, lease.outcome).where(
                lease.task_id == last, lease.worker_id == carol
            )
        ).one()
    assert tuple(ended) == (ran_out["until"], "expired")


def test_claims_and_answers_take_a_few_milliseconds(big: BigJob) -> None:
    db, job, worker = big.project.db, big.job, big.users["grace"]
    claims, answers = [], []
    for n in range(CLAIMS):
        start = time.perf_counter()
        task = next_task(db, job, worker)
        claims.append(time.perf_counter() - start)
        assert task is not None
        start = time.perf_counter()
        submit(db, task.task_id, worker, client_id=f"g{n}", answer=Classification("cat"),
               seconds=1.0)
        answers.append(time.perf_counter() - start)
    assert statistics.median(claims) < BOUND_S, claims
    assert statistics.median(answers) < BOUND_S, answers
