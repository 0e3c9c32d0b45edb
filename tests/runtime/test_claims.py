"""Claims on background work: one holder at a time, taken over when the lease ran out or the
holder died, renewed while the work goes on, released at its end (SQLite and PostgreSQL)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from truthloop.storage import claims
from truthloop.storage.project import Project
from truthloop.storage.tables import utcnow

KEY = "autolabel-job:1"
HOST = socket.gethostname()


def _dead_pid() -> int:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    )
    return int(finished.stdout)


def test_a_claim_is_taken_then_refused_while_held(project: Project) -> None:
    assert claims.try_claim(project.db, KEY, lease_s=60, holder="elsewhere:1")
    assert not claims.try_claim(project.db, KEY, lease_s=60, holder="elsewhere:2")
    # This process too is refused: two threads of a worker must not share the work.
    assert not claims.try_claim(project.db, KEY, lease_s=60)
    held = claims.current(project.db, KEY)
    assert held is not None and held[0] == "elsewhere:1"
    with pytest.raises(claims.ClaimHeld) as refused, claims.exclusive(project.db, KEY):
        pytest.fail("the block ran though the claim is held")
    assert (refused.value.key, refused.value.holder) == (KEY, "elsewhere:1")
    assert f"{KEY} is claimed by elsewhere:1 until" in str(refused.value)


def test_a_claim_whose_lease_ran_out_is_taken_over(project: Project) -> None:
    past = utcnow() - timedelta(seconds=120)
    assert claims.try_claim(project.db, KEY, lease_s=60, holder="elsewhere:1", now=past)
    assert claims.try_claim(project.db, KEY, lease_s=60, holder="elsewhere:2")
    assert claims.current(project.db, KEY) is not None
    assert claims.current(project.db, KEY)[0] == "elsewhere:2"  # type: ignore[index]
    # The first holder's renewal says the claim is no longer its.
    assert not claims.renew(project.db, KEY, lease_s=60, holder="elsewhere:1")


def test_a_claim_of_a_dead_process_of_this_host_is_taken_over_at_once(project: Project) -> None:
    dead = f"{HOST}:{_dead_pid()}"
    assert claims.process_gone(dead)
    assert not claims.process_gone(claims.this_process())
    assert not claims.process_gone("elsewhere:1")  # another host's: only its lease tells
    assert claims.try_claim(project.db, KEY, lease_s=3600, holder=dead)
    assert claims.try_claim(project.db, KEY, lease_s=60)
    assert claims.current(project.db, KEY)[0] == claims.this_process()  # type: ignore[index]


def test_renew_extends_the_lease_and_release_frees_the_key(project: Project) -> None:
    assert claims.try_claim(project.db, KEY, lease_s=1)
    first = claims.current(project.db, KEY)
    assert first is not None
    assert claims.renew(project.db, KEY, lease_s=600)
    renewed = claims.current(project.db, KEY)
    assert renewed is not None and renewed[1] > first[1] + timedelta(seconds=500)
    claims.release(project.db, KEY, holder="elsewhere:1")  # not its: nothing happens
    assert claims.current(project.db, KEY) is not None
    claims.release(project.db, KEY)
    assert claims.current(project.db, KEY) is None
    assert not claims.renew(project.db, KEY, lease_s=60)


def test_exclusive_renews_while_the_block_runs_and_releases_after(project: Project) -> None:
    with claims.exclusive(project.db, KEY, lease_s=0.6):
        time.sleep(1.5)  # over two leases: only the renewals keep it
        assert not claims.try_claim(project.db, KEY, lease_s=60, holder="elsewhere:1")
    assert claims.current(project.db, KEY) is None
    with pytest.raises(RuntimeError), claims.exclusive(project.db, KEY):
        raise RuntimeError("the work failed")
    assert claims.current(project.db, KEY) is None  # released on an exception too


def test_of_many_threads_asking_at_once_one_gets_the_claim(project: Project) -> None:
    start = threading.Barrier(8)
    won: list[str] = []

    def ask(n: int) -> None:
        start.wait()
        if claims.try_claim(project.db, KEY, lease_s=60, holder=f"elsewhere:{n}"):
            won.append(f"elsewhere:{n}")

    askers = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert len(won) == 1
    assert claims.current(project.db, KEY)[0] == won[0]  # type: ignore[index]
