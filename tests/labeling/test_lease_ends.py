"""Every lease gets an end: submitted, released, or expired when it ran out, also when its
server was killed and nobody came back for it (issue 15, item 7). On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from tests.labeling.conftest import ITEMS, Lab, later
from tests.labeling.test_statements import NEXT_STATEMENTS, statements
from truthloop.core.types import Classification
from truthloop.labeling import next_task, release, submit
from truthloop.labeling.tasks import end_ran_out_leases
from truthloop.runtime.background import BackgroundWorker
from truthloop.storage.tables import TaskLeaseRow


def _ends(lab: Lab, worker: int) -> dict[int, tuple[datetime | None, str | None, datetime]]:
    """task id -> (ended_at, outcome, expires_at) of the worker's leases."""
    with lab.project.session() as session:
        rows = session.scalars(select(TaskLeaseRow).where(TaskLeaseRow.worker_id == worker))
        return {r.task_id: (r.ended_at, r.outcome, r.expires_at) for r in rows}


def test_a_claim_that_takes_a_slot_back_ends_the_lease_that_ran_out(lab: Lab) -> None:
    job = lab.job(task_time_limit_s=30, workers_per_item=1)
    alice, bob = lab.users["alice"], lab.users["bob"]
    held = [next_task(lab.db, job, alice) for _ in range(ITEMS)]
    assert all(held) and all(end[:2] == (None, None) for end in _ends(lab, alice).values())
    with statements(lab.db) as taking_back:
        again = next_task(lab.db, job, bob, now=later(31))
    assert again is not None
    assert len(taking_back) == NEXT_STATEMENTS + 1  # the end of the lease taken back
    ended_at, outcome, expires_at = _ends(lab, alice)[again.task_id]
    assert (ended_at, outcome) == (expires_at, "expired")
    others = [end for task, end in _ends(lab, alice).items() if task != again.task_id]
    assert all(end[:2] == (None, None) for end in others)  # still leased to alice, run out


def test_a_claim_finds_the_lease_it_takes_back_by_task_not_by_chance(lab: Lab) -> None:
    """Leases and tasks are both numbered from 1, and a claim that looked a task's lease up by
    the lease's own id (a bare `id` in SQLite's RETURNING) was right only where the two ids
    met. Here they meet on a lease still open while a waiting slot is claimed, and on no open
    lease when a lease that ran out is taken back."""
    job = lab.job(task_time_limit_s=30, workers_per_item=1)
    alice, bob, carol = lab.users["alice"], lab.users["bob"], lab.users["carol"]
    first = next_task(lab.db, job, bob)  # lease 1, of task 1
    assert first is not None
    release(lab.db, first.task_id, bob)
    second = next_task(lab.db, job, bob)  # lease 2, of task 2: bob held item 1 already
    assert second is not None and second.task_id == first.task_id + 1
    with statements(lab.db) as leasing:
        third = next_task(lab.db, job, carol)  # lease 3, of task 1: waiting, no lease to end
    assert third is not None and third.task_id == first.task_id
    assert len(leasing) == NEXT_STATEMENTS, leasing
    submit(lab.db, second.task_id, bob, client_id="b", answer=Classification("dog"), seconds=1)
    taken = next_task(lab.db, job, alice, now=later(31))
    assert taken is not None and taken.task_id == third.task_id
    ended_at, outcome, expires_at = _ends(lab, carol)[third.task_id]
    assert (ended_at, outcome) == (expires_at, "expired")


def test_the_sweep_ends_leases_nobody_came_back_for_and_keeps_live_ones(lab: Lab) -> None:
    job = lab.job(task_time_limit_s=30, workers_per_item=1)
    alice = lab.users["alice"]
    abandoned = next_task(lab.db, job, alice, now=later(-60))  # ran out half a minute ago
    submitted, released, live = (next_task(lab.db, job, alice) for _ in range(3))
    assert abandoned and submitted and released and live
    submit(lab.db, submitted.task_id, alice, client_id="s", answer=Classification("dog"),
           seconds=1)
    release(lab.db, released.task_id, alice)
    with lab.project.session() as session:
        assert end_ran_out_leases(session) == 1
    ends = _ends(lab, alice)
    assert ends[submitted.task_id][1] == "submitted"
    assert ends[released.task_id][1] == "released"
    assert ends[abandoned.task_id][:2] == (ends[abandoned.task_id][2], "expired")
    assert ends[live.task_id][:2] == (None, None)
    with lab.project.session() as session:
        assert end_ran_out_leases(session) == 0  # each lease ends once


def test_a_late_submit_after_the_sweep_still_counts_and_ends_as_submitted(lab: Lab) -> None:
    job = lab.job(task_time_limit_s=30, workers_per_item=1)
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    with lab.project.session() as session:
        end_ran_out_leases(session, now=later(31))
    assert _ends(lab, alice)[task.task_id][1] == "expired"
    result = submit(lab.db, task.task_id, alice, client_id="late",
                    answer=Classification("dog"), seconds=40, now=later(40))
    assert result.accepted
    assert _ends(lab, alice)[task.task_id][1] == "submitted"


def test_the_background_worker_ends_the_leases_of_a_killed_server(lab: Lab) -> None:
    job = lab.job(task_time_limit_s=1, workers_per_item=1)
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice, now=later(-10))  # leased; its server died since
    assert task is not None
    BackgroundWorker(lab.project).run_once()
    ended_at, outcome, expires_at = _ends(lab, alice)[task.task_id]
    assert (ended_at, outcome) == (expires_at, "expired")
