"""What a lease and a submit cost the database, in statements: every worker request runs one, so
a statement more is a round trip more on every request (issue 4). The bounds are today's counts;
raise one only with a reason.

Transaction control (BEGIN, COMMIT) is not counted: each call is one transaction either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from tests.labeling.conftest import Lab
from truthloop.core.types import Boxes, Classification
from truthloop.labeling import TaskType, next_task, submit
from truthloop.storage.db import Database

# job and membership, claim, lease record, image
NEXT_STATEMENTS = 4
# task with its lease, job and membership, submission, task, lease, label, item, open items
SUBMIT_STATEMENTS = 8


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements `db` runs inside the block."""
    seen: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_a_lease_and_a_submit_take_a_handful_of_statements(lab: Lab) -> None:
    job = lab.job()
    alice = lab.users["alice"]
    for n in range(3):  # the first, and then some once the job has history
        with statements(lab.db) as leasing:
            task = next_task(lab.db, job, alice)
        assert task is not None
        with statements(lab.db) as submitting:
            result = submit(lab.db, task.task_id, alice, client_id=f"c{n}",
                            answer=Classification("cat"), seconds=1.0)
        assert result.accepted and result.item_done
        assert len(leasing) <= NEXT_STATEMENTS, leasing
        assert len(submitting) <= SUBMIT_STATEMENTS, submitting


def test_a_retried_submit_and_an_empty_queue_cost_even_less(sqlite_lab: Lab) -> None:
    lab = sqlite_lab
    job = lab.job(max_concurrent_tasks=1)
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    with statements(lab.db) as refused:
        assert next_task(lab.db, job, alice) is None  # holds as many leases as allowed
    assert len(refused) <= 2, refused  # job and membership, a claim that finds nothing
    answer = Classification("dog")
    submit(lab.db, task.task_id, alice, client_id="once", answer=answer, seconds=1.0)
    with statements(lab.db) as retried:
        result = submit(lab.db, task.task_id, alice, client_id="once", answer=answer, seconds=1.0)
    assert result.duplicate
    # task with its lease, job and membership, the first copy, whether the item is done
    assert len(retried) <= 4, retried


def test_proposals_add_one_statement(lab: Lab) -> None:
    job = lab.job(task_type=TaskType.ADJUSTMENT, proposals="model", labels=("dog",))
    alice = lab.users["alice"]
    with statements(lab.db) as leasing:
        task = next_task(lab.db, job, alice)
    assert task is not None and isinstance(task.proposals, Boxes)
    with statements(lab.db) as submitting:
        submit(lab.db, task.task_id, alice, client_id="a1", answer=task.proposals, seconds=2.0)
    assert len(leasing) <= NEXT_STATEMENTS + 1, leasing
    assert len(submitting) <= SUBMIT_STATEMENTS + 1, submitting
