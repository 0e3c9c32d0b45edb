"""Webhooks: where human-loop status changes are sent (A2I sends them to EventBridge), signed,
retried with backoff, delivered at least once.

    add_webhook(session, url, flow_id=None) -> (row, secret)   the secret is shown this once
    list_webhooks(session)  remove_webhook(session, id)         removed = deactivated, log kept
    list_deliveries(session, webhook_id=None, pending_only=False)
    deliver_due(project_or_db, now=None) -> tried               the background worker, each round
    verify_signature(secret, timestamp, body, signature, now=...)   for receivers

Each event (review/events.py) is queued, in the transaction that changed the loop, as one
delivery per active webhook of its flow or of every flow. `deliver_due` claims the due ones in a
short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: `BEGIN IMMEDIATE`) that moves
their `next_attempt_at` forward as a lease, so that workers running at once never claim one
delivery twice; it then POSTs each event outside any transaction and records the outcome in a
second one.

A request is a POST of the event as JSON (keys sorted, no spaces: the same bytes on every
attempt) with these headers:

    Content-Type: application/json
    X-Truthloop-Event-Id: truthloop-event-17        the event's `id`, the same for every webhook
    X-Truthloop-Delivery-Id: 42                     this event to this webhook
    X-Truthloop-Timestamp: 1735689600               unix seconds of this attempt
    X-Truthloop-Signature: sha256=<hex>             HMAC-SHA256, key = the webhook's secret, of
                                                    "<timestamp>.<body bytes>"

A receiver verifies a request by computing the HMAC of the timestamp header, a dot and the raw
body as received (before parsing it), comparing it with the signature in constant time
(`hmac.compare_digest`), and refusing a timestamp more than a few minutes from its own clock, so
that a recorded request cannot be replayed later; `verify_signature` does exactly that.

Delivery is at least once. A 2xx answer ends a delivery; any other answer (a redirect too: none
is followed), a timeout (TIMEOUT_S) or a connection failure is logged in `attempts_log` and
tried again after RETRY_FIRST_S × 2^(attempts−1) seconds, at most RETRY_MAX_S, plus up to a
tenth more at random (so that many deliveries to a receiver that was down do not all come back
at once): 10 s, 20 s, 40 s ... 2560 s, then every hour, up to MAX_ATTEMPTS attempts (about 3.4
hours in all), after which it gives up (`next_attempt_at` NULL, `last_error` says so). A
delivery is marked delivered only once the 2xx came back, so a worker that stops between
sending and recording (a crash, a lease that ran out during a very slow batch) sends it again:
receivers dedupe by `X-Truthloop-Event-Id` (or the body's `id`). Events also stay readable as a
feed (events.list_events), for a receiver that was down longer than the retries last.

The delivery loop itself (`deliver_round`: claim, try, record, give back) and `post_signed` are
shared with the pipeline's notifications (pipeline/notify.py), which keep their deliveries in a
table of the same columns and are sent with the same headers, signature, backoff and log; a
`DeliverySource` says which table, which query and how one delivery is tried.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from truthloop.core.text import LINE, refusal, shown
from truthloop.errors import InputError, NotFound
from truthloop.labeling.jobs import db_time
from truthloop.storage.db import Database
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    PipelineDeliveryRow,
    ReviewEventRow,
    WebhookDeliveryRow,
    WebhookRow,
    utcnow,
)

MAX_URL_LENGTH = 2048
TIMEOUT_S = 10.0
RETRY_FIRST_S = 10.0
RETRY_MAX_S = 3600.0
RETRY_JITTER = 0.1
MAX_ATTEMPTS = 12
# A claim holds its deliveries this long beyond the time their requests may take at most.
LEASE_MARGIN_S = 60.0
SIGNATURE_TOLERANCE_S = 300

EVENT_ID_HEADER = "X-Truthloop-Event-Id"
DELIVERY_ID_HEADER = "X-Truthloop-Delivery-Id"
TIMESTAMP_HEADER = "X-Truthloop-Timestamp"
SIGNATURE_HEADER = "X-Truthloop-Signature"


# The registry ----------------------------------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook's, or None when it can: http(s) only, with a host, no
    user name or password in it (the secret signs requests; a password in a URL is shown to
    whoever lists webhooks), no control character or space, at most MAX_URL_LENGTH characters."""
    if len(url) > MAX_URL_LENGTH:
        return f"the webhook URL is {len(url)} characters long, more than {MAX_URL_LENGTH}"
    problem = refusal(url, LINE)
    if problem is not None:
        return f"the webhook URL {problem}"
    if any(char.isspace() for char in url):
        return f"the webhook URL {shown(url)} contains a space; encode it as %20"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises on a port that is not a number in range
    except ValueError as error:
        return f"the webhook URL {shown(url)} is malformed: {error}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"the webhook URL {shown(url)} is not http:// or https://"
    if not parts.hostname:
        return f"the webhook URL {shown(url)} names no host"
    if "@" in parts.netloc:
        return (
            f"the webhook URL {shown(url)} holds a user name or password; requests are signed"
            " with the webhook's secret instead"
        )
    return None


def add_webhook(
    session: Session, url: str, *, flow_id: int | None = None, created_by: int | None = None
) -> tuple[WebhookRow, str]:
    """A webhook for the events of flow `flow_id`, or of every flow (None); the row and its
    secret, which signs every request: give it to the receiver now, it is not shown again."""
    problem = url_problem(url)
    if problem is not None:
        raise InputError(problem)
    if flow_id is not None and session.get(FlowDefinitionRow, flow_id) is None:
        raise NotFound(f"no flow definition with id {flow_id}")
    secret = secrets.token_urlsafe(32)
    hook = WebhookRow(
        url=url,
        secret=secret,
        flow_id=flow_id,
        active=True,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(hook)
    session.flush()
    return hook, secret


def list_webhooks(session: Session, *, active_only: bool = False) -> list[WebhookRow]:
    """Every webhook (removed ones too, `active` False, unless `active_only`), oldest first."""
    query = select(WebhookRow)
    if active_only:
        query = query.where(WebhookRow.active.is_(True))
    return list(session.scalars(query.order_by(WebhookRow.id)))


def remove_webhook(session: Session, webhook_id: int) -> WebhookRow:
    """Deactivate a webhook: no event is queued for it any more, and its deliveries still
    pending are given up (`last_error` says why); the row and its deliveries' log stay, to be
    read. Removing a removed webhook changes nothing."""
    hook = session.get(WebhookRow, webhook_id)
    if hook is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    if not hook.active:
        return hook
    hook.active = False
    give_up_pending(
        session,
        WebhookDeliveryRow,
        WebhookDeliveryRow.webhook_id == webhook_id,
        "the webhook was removed",
    )
    return hook


def list_deliveries(
    session: Session,
    *,
    webhook_id: int | None = None,
    pending_only: bool = False,
    limit: int = 100,
) -> list[WebhookDeliveryRow]:
    """Deliveries, newest first: of one webhook, or of all; `pending_only`, those neither
    delivered nor given up."""
    query = select(WebhookDeliveryRow)
    if webhook_id is not None:
        query = query.where(WebhookDeliveryRow.webhook_id == webhook_id)
    if pending_only:
        query = query.where(
            WebhookDeliveryRow.delivered_at.is_(None),
            WebhookDeliveryRow.next_attempt_at.is_not(None),
        )
    limit = min(max(limit, 1), 1000)
    return list(session.scalars(query.order_by(WebhookDeliveryRow.id.desc()).limit(limit)))


# Signing ---------------------------------------------------------------------------------------


def event_bytes(body: dict[str, Any]) -> bytes:
    """The event as sent: JSON with sorted keys and no spaces, so every attempt sends the same
    bytes whatever order the database returns the keys in (PostgreSQL's jsonb reorders them)."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-Truthloop-Signature value: `sha256=` and the hex HMAC-SHA256, keyed with the
    webhook's secret, of the timestamp, a dot and the body."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    *,
    now: datetime | float | None = None,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """Whether a request is truly from truthloop, unchanged and recent: `signature` (the
    X-Truthloop-Signature header) signs `timestamp` (X-Truthloop-Timestamp) and `body` (the raw
    bytes received) with `secret`, and the timestamp is within `tolerance_s` of `now` (a
    datetime, or unix seconds; the current time by default)."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if now is None:
        current = time.time()
    elif isinstance(now, datetime):
        current = (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()
    else:
        current = float(now)
    if abs(current - stamp) > tolerance_s:
        return False
    if not isinstance(signature, str) or not signature.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(secret, stamp, body).encode(), signature.encode())


# Delivery --------------------------------------------------------------------------------------


def retry_delay_s(attempts: int, jitter: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: RETRY_FIRST_S doubled each time,
    at most RETRY_MAX_S, plus up to RETRY_JITTER of that at random."""
    base = min(RETRY_FIRST_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S)
    return base * (1 + RETRY_JITTER * jitter())


P = TypeVar("P")
# The deliveries' tables: review events to webhooks, pipeline notifications to subscribers.
DeliveryRow = TypeVar("DeliveryRow", WebhookDeliveryRow, PipelineDeliveryRow)


@dataclass(frozen=True)
class Attempt:
    """What one try at a delivery gave: the receiver's status (an HTTP status; None when it
    gave none), the error (None: delivered) and whether the receiver did not answer at all (a
    timeout, a refused connection: it is down, so its other deliveries wait for the next
    round)."""

    status: int | None
    error: str | None
    unreachable: bool = False


@dataclass(frozen=True)
class Outcome:
    at: datetime
    attempt: Attempt
    elapsed_ms: int


@dataclass(frozen=True)
class Claim(Generic[P]):
    """A due delivery this worker holds: its row, who receives it (any value naming the
    receiver: one that does not answer is not tried again this round), what to send, when it
    was due (given back if it is released untried) and its next_attempt_at while held."""

    delivery_id: int
    receiver: object
    payload: P
    due: datetime
    lease: datetime


@dataclass(frozen=True)
class DeliverySource(Generic[DeliveryRow, P]):
    """Deliveries of one kind, as `deliver_round` takes them: their `table`; `query`, a select
    of the table's rows first, then what sending one needs (the caller's joins, and its filter
    of receivers still active); `claim`, from one selected row, its receiver and payload; and
    `sending`, entered only when something was claimed (a round with nothing due opens no
    connection), which gives the function that tries one claimed delivery once, never raising
    for the receiver's sake."""

    table: type[DeliveryRow]
    query: Select[*tuple[Any, ...]]
    claim: Callable[[Sequence[Any]], tuple[object, P]]
    sending: Callable[[], AbstractContextManager[Callable[[Claim[P], datetime], Attempt]]]


def deliver_due(
    target: Project | Database,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    limit: int = 50,
) -> int:
    """Send up to `limit` due deliveries (oldest first), each once; the number tried.

    They are claimed first (see the module docstring), so that other workers calling this at
    the same time, in this process or another, take others. Requests go out one at a time with
    `client` (by default a client of this call's own, TIMEOUT_S per request, no redirect
    followed). When a webhook does not answer at all, its other deliveries of this call are
    given back untried, due as before, so that a receiver that is down costs one timeout a
    round, not one per event. `now` (naive UTC, or aware) is the time of every attempt when
    given (tests); by default the clock is read at each step.
    """
    db = target.db if isinstance(target, Project) else target
    query = (
        select(WebhookDeliveryRow, WebhookRow.url, WebhookRow.secret, ReviewEventRow.body)
        .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)
        .join(ReviewEventRow, ReviewEventRow.id == WebhookDeliveryRow.event_id)
        .where(WebhookRow.active.is_(True))
    )

    @contextmanager
    def sending() -> Iterator[Callable[[Claim[_Request], datetime], Attempt]]:
        with http_client(client) as http:
            yield lambda claim, at: post_signed(
                http, claim.payload.url, claim.payload.secret, claim.payload.body,
                claim.payload.event_id, claim.delivery_id, at,
            )  # fmt: skip

    source = DeliverySource(WebhookDeliveryRow, query, _request, sending)
    return deliver_round(db, source, now=now, limit=limit)


@dataclass(frozen=True)
class _Request:
    url: str
    secret: str
    event_id: str
    body: bytes


def _request(row: Sequence[Any]) -> tuple[object, _Request]:
    delivery, url, secret, body = row[0], row[1], row[2], row[3]
    return delivery.webhook_id, _Request(url, secret, str(body.get("id", "")), event_bytes(body))


@contextmanager
def http_client(client: httpx.Client | None = None) -> Iterator[httpx.Client]:
    """`client`, or one of the caller's own (TIMEOUT_S per request, no redirect followed),
    closed when the caller is done."""
    if client is not None:
        yield client
        return
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as own:
        yield own


def deliver_round(
    db: Database,
    source: DeliverySource[DeliveryRow, P],
    *,
    now: datetime | None = None,
    limit: int = 50,
) -> int:
    """Claim up to `limit` due deliveries of `source`, try each once and record the outcome;
    the number tried. A receiver that does not answer at all has its other deliveries of this
    round given back untried, due as before. `now`: the time of every attempt (tests)."""
    clock: Callable[[], datetime] = (lambda: db_time(now)) if now is not None else utcnow
    claimed = _claim(db, source, clock(), limit)
    if not claimed:
        return 0
    unreachable: set[object] = set()
    tried = 0
    with source.sending() as send:
        for claim in claimed:
            if claim.receiver in unreachable:
                _release(db, source.table, claim)
                continue
            at = clock()
            started = time.monotonic()
            attempt = send(claim, at)
            tried += 1
            if attempt.unreachable:
                unreachable.add(claim.receiver)
            outcome = Outcome(at, attempt, round((time.monotonic() - started) * 1000))
            _record(db, source.table, claim.delivery_id, outcome)
    return tried


def _claim(
    db: Database, source: DeliverySource[DeliveryRow, P], now: datetime, limit: int
) -> list[Claim[P]]:
    """Take the due deliveries: in one short transaction, move their `next_attempt_at` past the
    time this call may take to try them all, so that no other worker takes them meanwhile."""
    table = source.table
    query = (
        source.query.where(table.delivered_at.is_(None), table.next_attempt_at <= now)
        .order_by(table.next_attempt_at, table.id)
        .limit(max(limit, 1))
    )
    with db.session(immediate=True) as session:
        if db.dialect == "postgresql":
            # Rows another worker is claiming right now are skipped, not waited for.
            query = query.with_for_update(skip_locked=True, of=table)
        rows = session.execute(query).all()
        lease = now + timedelta(seconds=len(rows) * (TIMEOUT_S + 1) + LEASE_MARGIN_S)
        claimed = []
        for row in rows:
            delivery = row[0]
            assert delivery.next_attempt_at is not None  # selected as due
            receiver, payload = source.claim(row)
            claimed.append(Claim(delivery.id, receiver, payload, delivery.next_attempt_at, lease))
            delivery.next_attempt_at = lease
    return claimed


def post_signed(
    http: httpx.Client,
    url: str,
    secret: str,
    body: bytes,
    event_id: str,
    delivery_id: int,
    at: datetime,
) -> Attempt:
    """POST `body` to `url` once, signed with `secret` at `at` (the module docstring's
    headers); what came of it. Never raises for the receiver's sake."""
    timestamp = int(at.replace(tzinfo=UTC).timestamp())
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: event_id,
        DELIVERY_ID_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "User-Agent": "truthloop-webhooks",
    }
    try:
        request = http.build_request("POST", url, content=body, headers=headers)
        # The answer's body is not read: only its status counts, whatever its size.
        response = http.send(request, stream=True)
        response.close()
    except httpx.TimeoutException:
        return Attempt(None, "no answer in time (timed out)", unreachable=True)
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
        return Attempt(None, error, unreachable=True)
    except Exception as failure:  # a bad URL or header must not stop the other deliveries
        return Attempt(None, f"{type(failure).__name__}: {failure}", unreachable=True)
    status = response.status_code
    return Attempt(status, None if 200 <= status < 300 else f"answered HTTP {status}")


def _record(db: Database, table: type[DeliveryRow], delivery_id: int, outcome: Outcome) -> None:
    """Write down an attempt: delivered, or tried again later, or given up."""
    with db.session(immediate=True) as session:
        delivery = session.get(table, delivery_id, with_for_update=True)
        if delivery is None or delivery.delivered_at is not None:
            return  # removed meanwhile, or another worker delivered it after our lease ran out
        _write_down(delivery, outcome)


def _write_down(delivery: WebhookDeliveryRow | PipelineDeliveryRow, outcome: Outcome) -> None:
    attempt = outcome.attempt
    delivery.attempts = (delivery.attempts or 0) + 1
    delivery.attempts_log = [
        *(delivery.attempts_log or []),
        {
            "at": outcome.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "status": attempt.status,
            "error": attempt.error,
            "ms": outcome.elapsed_ms,
        },
    ]
    delivery.last_status = attempt.status
    if attempt.error is None:
        delivery.delivered_at = outcome.at
        delivery.next_attempt_at = None
        delivery.last_error = None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.next_attempt_at = None
        delivery.last_error = f"gave up after {delivery.attempts} attempts: {attempt.error}"
    else:
        delivery.next_attempt_at = outcome.at + timedelta(seconds=retry_delay_s(delivery.attempts))
        delivery.last_error = attempt.error


def _release(db: Database, table: type[DeliveryRow], claim: Claim[P]) -> None:
    """Give back a claimed delivery untried, due when it was (unless it is no longer ours)."""
    with db.session(immediate=True) as session:
        row = session.get(table, claim.delivery_id, with_for_update=True)
        if row is not None and row.delivered_at is None and row.next_attempt_at == claim.lease:
            row.next_attempt_at = claim.due


def give_up_pending(
    session: Session, table: type[DeliveryRow], receiver: ColumnElement[bool], reason: str
) -> None:
    """Stop trying the deliveries of a receiver no longer active (`receiver` selects them):
    neither delivered nor given up yet, they are given up with `reason`; their log stays."""
    pending = session.scalars(
        select(table).where(
            receiver, table.delivered_at.is_(None), table.next_attempt_at.is_not(None)
        )
    )
    for delivery in pending:
        delivery.next_attempt_at = None
        delivery.last_error = reason
    session.flush()
