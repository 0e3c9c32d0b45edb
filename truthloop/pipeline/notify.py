"""Who is told of a pipeline's events, and the telling: e-mail through the project's SMTP
server, and webhooks signed, retried and logged as the review webhooks are.

    subscribe(session, pipeline, "email"|"webhook", target, events=, secret=) -> subscriber
    unsubscribe(session, pipeline, id)      list_subscribers(session, pipeline)
    notify(session, pipeline, event, facts) -> notification     one delivery per subscriber
    check_backlog(session, pipeline, open_loops)                 once per crossing
    list_notifications(session, pipeline)   list_deliveries(session, pipeline)
    deliver_due(project) -> tried                                 the background worker's round

`notify` always stores the notification (the pipeline's event log), with a subject and a body
written by `core.pipeline_notices` from the facts, and queues one delivery to each active
subscriber that wants the event, in the caller's transaction: a notice of something rolled
back is never sent. `deliver_due` sends them with the review webhooks' delivery loop
(review/webhooks.py: claimed with SKIP LOCKED, backoff, attempts log, at least once). A
webhook gets a POST of {"event", "pipeline", "subject", "body", "data", "id", "time"} as JSON,
with the review webhooks' headers and signature; receivers dedupe by the `id`. An e-mail is the
subject and the body as text; when no SMTP server is configured it waits, retried with
backoff, and its log says which setting to set.
"""

from __future__ import annotations

import secrets
import smtplib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.core.pipeline_notices import (
    EVENTS,
    BacklogStep,
    backlog_step,
    email_problem,
    event_problem,
    facts_problem,
    notice,
)
from truthloop.core.pipeline_params import REVIEW_BACKLOG_ALERT
from truthloop.core.text import LINE, refusal
from truthloop.errors import ConfigError, InputError, NotFound
from truthloop.labeling.jobs import db_time
from truthloop.people.mail import Mailer
from truthloop.pipeline.params import get_param
from truthloop.review.webhooks import (
    Attempt,
    Claim,
    DeliverySource,
    deliver_round,
    event_bytes,
    give_up_pending,
    http_client,
    post_signed,
    url_problem,
)
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    PipelineDeliveryRow,
    PipelineNotificationRow,
    PipelineRow,
    PipelineSubscriberRow,
)

__all__ = [
    "EVENTS",
    "KINDS",
    "check_backlog",
    "deliver_due",
    "list_deliveries",
    "list_notifications",
    "list_subscribers",
    "notify",
    "subscribe",
    "unsubscribe",
]

EMAIL = "email"
WEBHOOK = "webhook"
KINDS = (EMAIL, WEBHOOK)
MOST_LISTED = 1000
"""The most notifications or deliveries one list returns."""
# A secret shorter than this is guessable; the column holds at most the longer bound.
SECRET_CHARS = (16, 128)
# Every e-mail waits while the one SMTP server does not answer; each webhook on its own.
_SMTP = "smtp"


# Subscribers -----------------------------------------------------------------------------------


def subscribe(
    session: Session,
    pipeline: PipelineRow,
    kind: str,
    target: str,
    *,
    events: Sequence[str] = (),
    secret: str | None = None,
    created_by: int | None = None,
) -> PipelineSubscriberRow:
    """Tell `target`, an e-mail address or a webhook URL (`kind`), of the pipeline's `events`
    (none: every event). A webhook's requests are signed with `secret`, one generated when
    none is given: the row holds it, to be shown to the receiver now."""
    where = f"pipeline {pipeline.name!r}"
    problem = _target_problem(kind, target) or _events_problem(events)
    if kind == WEBHOOK and problem is None:
        secret = secret if secret is not None else secrets.token_urlsafe(32)
        problem = _secret_problem(secret)
    elif kind == EMAIL and secret is not None:
        problem = "a secret signs webhook requests; an e-mail subscriber takes none"
    if problem is not None:
        raise InputError(f"cannot subscribe to {where}: {problem}")
    taken = session.scalar(
        select(PipelineSubscriberRow.id).where(
            PipelineSubscriberRow.pipeline_id == pipeline.id,
            PipelineSubscriberRow.kind == kind,
            PipelineSubscriberRow.target == target,
            PipelineSubscriberRow.active.is_(True),
        )
    )
    if taken is not None:
        raise InputError(
            f"{target} is subscribed to {where} already (subscriber {taken});"
            f" unsubscribe it first to change its events"
        )
    subscriber = PipelineSubscriberRow(
        pipeline_id=pipeline.id,
        kind=kind,
        target=target,
        secret=secret,
        events=list(dict.fromkeys(events)),
        active=True,
        created_by=created_by,
        created_at=db_time(None),
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def _target_problem(kind: str, target: str) -> str | None:
    if kind == EMAIL:
        return email_problem(target)
    if kind == WEBHOOK:
        return url_problem(target)
    return f"a subscriber is one of {', '.join(KINDS)}, not {kind!r}"


def _events_problem(events: Sequence[str]) -> str | None:
    return next((p for e in events if (p := event_problem(e)) is not None), None)


def _secret_problem(secret: str) -> str | None:
    low, high = SECRET_CHARS
    if not low <= len(secret) <= high:
        return f"a webhook secret has {low} to {high} characters, not {len(secret)}"
    problem = refusal(secret, LINE)
    return None if problem is None else f"the webhook secret {problem}"


def unsubscribe(
    session: Session, pipeline: PipelineRow, subscriber_id: int
) -> PipelineSubscriberRow:
    """Stop telling a subscriber: it is deactivated and its deliveries still pending are given
    up; the row and its log stay, to be read. Unsubscribing twice changes nothing."""
    subscriber = session.get(PipelineSubscriberRow, subscriber_id)
    if subscriber is None or subscriber.pipeline_id != pipeline.id:
        raise NotFound(f"pipeline {pipeline.name!r} has no subscriber {subscriber_id}")
    if subscriber.active:
        subscriber.active = False
        give_up_pending(
            session,
            PipelineDeliveryRow,
            PipelineDeliveryRow.subscriber_id == subscriber_id,
            "the subscriber was unsubscribed",
        )
    return subscriber


def list_subscribers(session: Session, pipeline: PipelineRow) -> list[PipelineSubscriberRow]:
    """The pipeline's subscribers, unsubscribed ones too (`active` False), oldest first."""
    query = select(PipelineSubscriberRow).where(PipelineSubscriberRow.pipeline_id == pipeline.id)
    return list(session.scalars(query.order_by(PipelineSubscriberRow.id)))


# Notifications ---------------------------------------------------------------------------------


def notify(
    session: Session,
    pipeline: PipelineRow,
    event: str,
    facts: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> PipelineNotificationRow:
    """Record that `event` happened, with its `facts` (core.pipeline_notices.FACTS), and queue
    it for every active subscriber that wants it, due at once."""
    problem = event_problem(event) or facts_problem(event, facts)
    if problem is not None:
        raise InputError(f"pipeline {pipeline.name!r}: {problem}")
    written = notice(pipeline.name, event, facts)
    when = db_time(now)
    notification = PipelineNotificationRow(
        pipeline_id=pipeline.id,
        event=event,
        subject=written.subject,
        body=written.body,
        data=dict(facts),
        created_at=when,
    )
    session.add(notification)
    session.flush()
    for subscriber in _wanting(session, pipeline, event):
        session.add(
            PipelineDeliveryRow(
                notification_id=notification.id,
                subscriber_id=subscriber.id,
                attempts=0,
                next_attempt_at=when,
                attempts_log=[],
                created_at=when,
            )
        )
    session.flush()
    return notification


def _wanting(session: Session, pipeline: PipelineRow, event: str) -> list[PipelineSubscriberRow]:
    """The active subscribers told of `event`: those listing it, and those listing none."""
    active = [s for s in list_subscribers(session, pipeline) if s.active]
    return [s for s in active if not s.events or event in s.events]


def check_backlog(
    session: Session, pipeline: PipelineRow, open_loops: int, *, now: datetime | None = None
) -> PipelineNotificationRow | None:
    """Tell the subscribers when `open_loops` review loops are open, at or above the
    pipeline's Review-Backlog-Alert, unless they were told since the backlog was last seen
    below it; the notification, or None. The pipeline row remembers the telling
    (`backlog_alerted_at`), locked meanwhile so that two checks at once tell once."""
    # Read under the row's lock, not from the caller's copy, which another check may have made
    # stale; the caller's other changes to the row are flushed first, not refreshed away.
    alerted_at = session.scalar(
        select(PipelineRow.backlog_alerted_at)
        .where(PipelineRow.id == pipeline.id)
        .with_for_update()
    )
    threshold = int(get_param(session, pipeline, REVIEW_BACKLOG_ALERT.name))
    step = backlog_step(open_loops, threshold, alerted_at is not None)
    if step is BacklogStep.CLEAR:
        pipeline.backlog_alerted_at = None
    if step is not BacklogStep.ALERT:
        return None
    flow = session.get(FlowDefinitionRow, pipeline.flow_id) if pipeline.flow_id else None
    facts = {"open_loops": open_loops, "threshold": threshold, "flow": flow.name if flow else None}
    notification = notify(session, pipeline, "review-backlog", facts, now=now)
    pipeline.backlog_alerted_at = notification.created_at
    return notification


def list_notifications(
    session: Session, pipeline: PipelineRow, *, limit: int = 50
) -> list[PipelineNotificationRow]:
    """The pipeline's notifications, newest first: its event log."""
    query = select(PipelineNotificationRow).where(
        PipelineNotificationRow.pipeline_id == pipeline.id
    )
    query = query.order_by(PipelineNotificationRow.id.desc()).limit(_limit(limit))
    return list(session.scalars(query))


def list_deliveries(
    session: Session, pipeline: PipelineRow, *, limit: int = 50
) -> list[PipelineDeliveryRow]:
    """The deliveries of the pipeline's notifications, newest first, with their attempts."""
    query = (
        select(PipelineDeliveryRow)
        .join(PipelineNotificationRow)
        .where(PipelineNotificationRow.pipeline_id == pipeline.id)
        .order_by(PipelineDeliveryRow.id.desc())
        .limit(_limit(limit))
    )
    return list(session.scalars(query))


def _limit(limit: int) -> int:
    if not 1 <= limit <= MOST_LISTED:
        raise InputError(f"limit must be from 1 to {MOST_LISTED}, not {limit}")
    return limit


# Delivery --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Message:
    """One notification as one subscriber gets it."""

    subscriber_id: int
    kind: str
    target: str
    secret: str | None
    pipeline: str
    subject: str
    body: str
    json: bytes  # what a webhook is sent; its `id` is the same for every subscriber
    event_id: str


def deliver_due(
    project: Project,
    *,
    now: datetime | None = None,
    limit: int = 100,
    client: httpx.Client | None = None,
) -> int:
    """Send up to `limit` due deliveries, oldest first, each once (a webhook POST, an e-mail);
    every try is logged and a failed one is tried again with backoff; the number tried.
    `client`: the HTTP client for webhooks (by default one of this call's own)."""
    mailer = Mailer.from_settings(project.settings)
    query = (
        select(PipelineDeliveryRow, PipelineSubscriberRow, PipelineNotificationRow, PipelineRow)
        .join(PipelineSubscriberRow, PipelineSubscriberRow.id == PipelineDeliveryRow.subscriber_id)
        .join(
            PipelineNotificationRow,
            PipelineNotificationRow.id == PipelineDeliveryRow.notification_id,
        )
        .join(PipelineRow, PipelineRow.id == PipelineNotificationRow.pipeline_id)
        .where(PipelineSubscriberRow.active.is_(True))
    )

    @contextmanager
    def sending() -> Iterator[Callable[[Claim[_Message], datetime], Attempt]]:
        with http_client(client) as http:
            yield lambda claim, at: _send(http, mailer, claim, at)

    source = DeliverySource(PipelineDeliveryRow, query, _message, sending)
    return deliver_round(project.db, source, now=now, limit=limit)


def _send(
    http: httpx.Client, mailer: Mailer | None, claim: Claim[_Message], at: datetime
) -> Attempt:
    """Try one delivery once: a signed POST to a webhook, or a mail."""
    message = claim.payload
    if message.kind != WEBHOOK:
        return _mail(mailer, message)
    assert message.secret is not None  # every webhook has one (subscribe)
    return post_signed(
        http, message.target, message.secret, message.json, message.event_id,
        claim.delivery_id, at,
    )  # fmt: skip


def _message(row: Sequence[Any]) -> tuple[object, _Message]:
    """A claimed delivery's receiver and message, read while its row is held."""
    subscriber, notification, pipeline = row[1], row[2], row[3]
    event_id = f"truthloop-notification-{notification.id}"
    body = {
        "event": notification.event,
        "pipeline": pipeline.name,
        "subject": notification.subject,
        "body": notification.body,
        "data": notification.data,
        "id": event_id,
        "time": notification.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    message = _Message(
        subscriber.id,
        subscriber.kind,
        subscriber.target,
        subscriber.secret,
        pipeline.name,
        notification.subject,
        notification.body,
        event_bytes(body),
        event_id,
    )
    receiver = _SMTP if subscriber.kind == EMAIL else (WEBHOOK, subscriber.id)
    return receiver, message


def _mail(mailer: Mailer | None, message: _Message) -> Attempt:
    """Mail the notification once; what came of it. Never raises for the server's sake."""
    if mailer is None:
        return Attempt(
            None,
            "no SMTP server is configured: set TRUTHLOOP_SMTP_HOST (and TRUTHLOOP_SMTP_PORT,"
            " _SENDER, _USERNAME, _PASSWORD as needed) to send e-mail notifications",
            unreachable=True,
        )
    footer = (
        f"\n\n--\nYou get this as subscriber {message.subscriber_id} of pipeline"
        f" {message.pipeline}; stop with"
        f" `truthloop pipeline unsubscribe {message.pipeline} {message.subscriber_id}`."
    )
    try:
        mailer.send(message.target, message.subject, message.body + footer)
    except ConfigError as error:
        # A refused address is this subscriber's; anything else, the server's.
        refused = isinstance(error.__cause__, smtplib.SMTPRecipientsRefused)
        return Attempt(None, str(error), unreachable=not refused)
    return Attempt(None, None)
