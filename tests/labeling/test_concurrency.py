"""Many workers at once, on SQLite and on PostgreSQL: no slot is handed out twice, no answer is
lost or stored twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from tests.labeling.conftest import ITEMS, Lab
from truthloop.core.types import Classification
from truthloop.labeling import JobStatus, SubmitResult, TaskView, next_task, submit
from truthloop.people import add_member, add_user
from truthloop.storage.tables import AnnotationRow, JobRow, SubmissionRow, TaskLeaseRow

THREADS = 32
SLOTS = 3


T = TypeVar("T")


def _all_at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call on its own thread, released together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_many_workers_asking_at_once_never_share_a_slot(lab: Lab) -> None:
    with lab.project.session() as session:
        workers = []
        for n in range(THREADS):
            workers.append(add_user(session, f"w{n}", password=None).id)
            add_member(session, "crew", f"w{n}")
    job = lab.job(workers_per_item=SLOTS, max_concurrent_tasks=ITEMS)

    def drain(worker: int) -> Callable[[], list[tuple[int, TaskView]]]:
        def ask() -> list[tuple[int, TaskView]]:
            got = []
            while (task := next_task(lab.db, job, worker)) is not None:
                got.append((worker, task))
            return got

        return ask

    leases = [pair for pairs in _all_at_once([drain(w) for w in workers]) for pair in pairs]
    handed = [task for _, task in leases]
    assert len(handed) == ITEMS * SLOTS
    assert len({t.task_id for t in handed}) == len(handed)
    assert max(Counter(t.item_id for t in handed).values()) == SLOTS
    with lab.project.session() as session:
        pairs = session.execute(select(TaskLeaseRow.worker_id, TaskLeaseRow.item_id)).all()
    assert len(pairs) == len(set(pairs)) == len(handed)

    # Every answer is sent twice at the same moment (a client retrying before the first reply).
    def send(worker: int, task: TaskView) -> Callable[[], SubmitResult]:
        return lambda: submit(lab.db, task.task_id, worker, client_id=f"c{task.task_id}",
                              answer=Classification("cat"), seconds=1.0)

    results = _all_at_once([send(w, t) for w, t in leases for _ in range(2)])
    assert all(isinstance(r, SubmitResult) and r.accepted for r in results)
    assert sum(r.duplicate for r in results if isinstance(r, SubmitResult)) == len(handed)
    with lab.project.session() as session:
        assert session.scalar(select(func.count()).select_from(SubmissionRow)) == len(handed)
        labels = session.scalars(select(AnnotationRow.value).where(
            AnnotationRow.job_name == "pets-job")).all()
    assert len(labels) == ITEMS


def test_the_job_completes_when_its_last_items_are_answered_at_once(lab: Lab) -> None:
    """Two submits that close the last two items, each committing only once both have done
    their work: each saw the other's item still open, and yet the job ends completed."""
    job = lab.job()
    alice, bob = lab.users["alice"], lab.users["bob"]
    for _ in range(ITEMS - 2):
        task = next_task(lab.db, job, alice)
        assert task is not None
        submit(lab.db, task.task_id, alice, client_id=f"c{task.task_id}",
               answer=Classification("cat"), seconds=1.0)
    last = [(alice, next_task(lab.db, job, alice)), (bob, next_task(lab.db, job, bob))]
    both_done = threading.Barrier(2, timeout=10)
    waited: set[int] = set()

    def hold_commit(session: Session) -> None:
        # SQLite lets one writer in at a time, so there the second waits for the first's commit
        # and the two never overlap: only PostgreSQL's submits are held together.
        if lab.db.dialect == "postgresql" and threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            both_done.wait()

    event.listen(Session, "before_commit", hold_commit)
    try:
        results = _all_at_once([
            partial(submit, lab.db, t.task_id, w, client_id=f"c{t.task_id}",
                    answer=Classification("dog"), seconds=1.0)
            for w, t in last if t is not None
        ])
    finally:
        event.remove(Session, "before_commit", hold_commit)
    assert [r.item_done for r in results if isinstance(r, SubmitResult)] == [True, True]
    with lab.project.session() as session:
        row = session.get(JobRow, job)
        assert row is not None
        assert row.status == JobStatus.COMPLETED
        assert row.completed_at is not None
