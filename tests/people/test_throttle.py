"""Failed sign-ins slow a guesser down without locking out the right password: the policy with
plain values, and the counts in the database that every portal process shares."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from truthloop.people import sign_in_attempts
from truthloop.people.throttle import POLICY, Attempts, ThrottlePolicy, backoff_s, wait_s
from truthloop.storage.project import Project
from truthloop.storage.tables import SignInAttemptRow

T0 = datetime(2026, 12, 3, 12, 0, 0)


def test_the_delay_doubles_after_the_free_tries_up_to_its_cap() -> None:
    assert [backoff_s(n, 3, 1.0, 900.0) for n in range(3)] == [0.0, 0.0, 0.0]
    assert [backoff_s(n, 3, 1.0, 900.0) for n in range(3, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert backoff_s(13, 3, 1.0, 900.0) == 900.0  # 1024 s, capped at 15 minutes
    assert backoff_s(10**6, 3, 1.0, 900.0) == 900.0  # no overflow however many


def test_the_wait_counts_from_the_last_failure() -> None:
    pair = Attempts(pair_failures=5, pair_last_failed_at=T0)  # 4 s after 5 failures
    assert wait_s(pair, T0) == 4.0
    assert wait_s(pair, T0 + timedelta(seconds=3)) == 1.0
    assert wait_s(pair, T0 + timedelta(seconds=5)) == 0.0


def test_guessing_from_many_addresses_costs_the_owner_half_a_minute_at_most() -> None:
    spread = Attempts(name_failures=10_000, name_last_failed_at=T0)
    assert wait_s(spread, T0) == POLICY.name_cap_s == 30.0
    # From an address where the owner signed in before, not even that.
    assert wait_s(Attempts(name_failures=10_000, name_last_failed_at=T0, known_address=True),
                  T0) == 0.0
    assert wait_s(Attempts(name_failures=POLICY.name_free - 1, name_last_failed_at=T0), T0) == 0


def test_a_policy_is_plain_values() -> None:
    strict = ThrottlePolicy(free=1, base_s=10.0, pair_cap_s=60.0)
    assert wait_s(Attempts(pair_failures=4, pair_last_failed_at=T0), T0, strict) == 60.0


def test_counts_are_kept_per_name_and_address_in_the_database(project: Project) -> None:
    with project.session() as session:
        for n in range(4):
            sign_in_attempts.record_failure(session, "Alice", "10.0.0.9", T0 + timedelta(seconds=n))
        sign_in_attempts.record_failure(session, "alice", "10.0.0.8", T0)
    now = T0 + timedelta(seconds=4)
    with project.session() as session:
        seen = sign_in_attempts.attempts_for(session, "ALICE", "10.0.0.9", now)
        elsewhere = sign_in_attempts.attempts_for(session, "alice", "192.0.2.1", now)
    assert (seen.pair_failures, seen.name_failures) == (4, 5)
    assert wait_s(seen, now) == 1.0  # 2 s after the fourth failure, at T0 + 3 s
    assert (elsewhere.pair_failures, wait_s(elsewhere, now)) == (0, 0.0)


def test_a_success_forgives_its_pair_and_knows_the_address(project: Project) -> None:
    with project.session() as session:
        for _ in range(5):
            sign_in_attempts.record_failure(session, "bob", "10.0.0.1", T0)
        sign_in_attempts.record_success(session, "bob", "10.0.0.1", T0)
        after = sign_in_attempts.attempts_for(session, "bob", "10.0.0.1", T0)
    assert after == Attempts(known_address=True)


def test_old_failures_are_forgotten_and_their_rows_go(project: Project) -> None:
    later = T0 + POLICY.forget_after + timedelta(hours=1)
    with project.session() as session:
        for n in range(50):
            sign_in_attempts.record_failure(session, f"user{n}", None, T0)
        sign_in_attempts.record_failure(session, "late", None, later)
        assert sign_in_attempts.attempts_for(session, "user0", None, later) == Attempts()
        assert session.scalar(select(func.count()).select_from(SignInAttemptRow)) == 1
