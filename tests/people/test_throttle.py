"""Failed sign-ins slow a guesser down: per user name and per address, within a window."""

from __future__ import annotations

from truthloop.people.throttle import SignInThrottle


def throttle(**terms: object) -> tuple[SignInThrottle, list[float]]:
    now = [0.0]
    return SignInThrottle(clock=lambda: now[0], **terms), now  # type: ignore[arg-type]


def test_the_fifth_failure_for_a_name_makes_the_next_try_wait() -> None:
    guard, now = throttle(per_user=5, window_s=900)
    for minute in range(4):
        now[0] = minute * 60.0
        guard.failed("Alice", "10.0.0.1")
        assert guard.wait_s("alice", "10.0.0.9") == 0
    now[0] = 300.0
    guard.failed("alice", "10.0.0.1")
    assert guard.wait_s("ALICE", "10.0.0.9") == 900.0 - 300.0  # until the first is 15 min old
    assert guard.wait_s("bob", "10.0.0.9") == 0  # other names are not held up
    now[0] = 900.0
    assert guard.wait_s("alice", None) == 0  # the first failure left the window


def test_a_success_clears_the_name_but_not_the_address() -> None:
    guard, _ = throttle(per_user=2, per_address=3)
    guard.failed("alice", "10.0.0.1")
    guard.succeeded("alice")
    guard.failed("alice", "10.0.0.1")
    assert guard.wait_s("alice", None) == 0
    guard.failed("bob", "10.0.0.1")
    assert guard.wait_s("carol", "10.0.0.1") > 0  # three failures from one address
    assert guard.wait_s("carol", "10.0.0.2") == 0


def test_names_tried_at_random_do_not_pile_up() -> None:
    guard, now = throttle(max_keys=100, window_s=10)
    for n in range(150):
        guard.failed(f"user{n}", None)
    now[0] = 11.0
    guard.failed("late", None)
    assert guard.wait_s("user0", None) == 0
    assert len(guard._failures) == 1
