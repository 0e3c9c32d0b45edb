"""How long a sign-in must wait after failed ones: pure policy, tested with plain values.

Guessing is slowed, never turned into a lockout of the right password:

- per user name *and* address: the first `free` failures cost nothing, then each further try
  waits `base_s`, 2 `base_s`, 4 `base_s` ... after the last failure, up to `pair_cap_s`
  (15 minutes). A guesser at one address soon gets a few tries an hour; the owner, elsewhere,
  is not held up by them at all.
- per user name over all addresses (guessing spread over many addresses): the same doubling
  after `name_free` failures, but capped at `name_cap_s` (30 seconds), so the owner from a
  new place waits half a minute at worst; from an address where they signed in before
  (`known_address`), not at all.

Failures older than `forget_after` no longer count. The counts live in the database
(`truthloop.people.sign_in_attempts`), so every portal process sees the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free: int = 3
    base_s: float = 1.0
    pair_cap_s: float = 900.0
    name_free: int = 20
    name_cap_s: float = 30.0
    forget_after: timedelta = timedelta(hours=24)
    # A successful sign-in from an address vouches for it this long.
    known_for: timedelta = timedelta(days=30)


POLICY = ThrottlePolicy()


@dataclass(frozen=True, slots=True)
class Attempts:
    """Recent failures for one user name: from this address, and from everywhere."""

    pair_failures: int = 0
    pair_last_failed_at: datetime | None = None
    name_failures: int = 0
    name_last_failed_at: datetime | None = None
    known_address: bool = False


def backoff_s(failures: int, free: int, base_s: float, cap_s: float) -> float:
    """Nothing for the first `free` failures, then `base_s` doubled for each one more, at most
    `cap_s`."""
    if failures < free:
        return 0.0
    # The exponent is bounded first: 2 ** 10_000 would be a float overflow, not a long wait.
    return min(base_s * 2.0 ** min(failures - free, 64), cap_s)


def _left(last: datetime | None, delay_s: float, now: datetime) -> float:
    if last is None or delay_s <= 0:
        return 0.0
    return max(0.0, (last - now).total_seconds() + delay_s)


def wait_s(attempts: Attempts, now: datetime, policy: ThrottlePolicy = POLICY) -> float:
    """Seconds before this name may be tried from this address; 0 when it may be now."""
    pair = backoff_s(attempts.pair_failures, policy.free, policy.base_s, policy.pair_cap_s)
    name = 0.0
    if not attempts.known_address:
        name = backoff_s(
            attempts.name_failures, policy.name_free, policy.base_s, policy.name_cap_s
        )
    return max(
        _left(attempts.pair_last_failed_at, pair, now),
        _left(attempts.name_last_failed_at, name, now),
    )
