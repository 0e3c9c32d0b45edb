"""A pipeline's subscribers on SQLite and PostgreSQL: refusals that say what and where; each
notification stored with one delivery per subscriber that wants it; webhooks signed over real
HTTP on loopback and retried with backoff; e-mail through a real SMTP server on loopback; the
backlog told once a crossing; every parameter change told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.receivers import Inbox, Receiver, http_receiver, smtp_inbox
from truthloop.core.types import LabelSet
from truthloop.errors import InputError, NotFound
from truthloop.pipeline import (
    EVENTS,
    PipelineSpec,
    check_backlog,
    create_pipeline,
    deliver_due,
    get_pipeline,
    list_deliveries,
    list_notifications,
    list_subscribers,
    notify,
    set_param,
    subscribe,
    unsubscribe,
)
from truthloop.pipeline.notify import MOST_LISTED
from truthloop.review.webhooks import RETRY_FIRST_S, RETRY_JITTER, verify_signature
from truthloop.storage.datasets import create_dataset
from truthloop.storage.project import Project
from truthloop.storage.tables import PipelineDeliveryRow, PipelineSubscriberRow

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
GATE = {"run_id": 9, "version": "logos.v3", "f1": 0.71, "minimum_f1": 0.8, "deployed": "logos.v2"}
STARTED = {"run_id": 8, "new_images": 12, "labeled_images": 40, "from_version": None}


@pytest.fixture
def logos(project: Project) -> Project:
    with project.session() as session:
        create_dataset(session, "logos", LabelSet.from_names(["a", "b"]))
        create_pipeline(session, PipelineSpec("logos", "classification", "logos"))
    return project


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as state:
        yield state


def add(project: Project, kind: str, target: str, *events: str) -> PipelineSubscriberRow:
    with project.session() as session:
        return subscribe(session, get_pipeline(session, "logos"), kind, target, events=events)


def tell(project: Project, event: str = "gate-failed", facts: dict | None = None) -> int:
    with project.session() as session:
        pipeline = get_pipeline(session, "logos")
        return notify(session, pipeline, event, facts or GATE, now=T0).id


def deliveries(project: Project) -> list[PipelineDeliveryRow]:
    with project.session() as session:
        return list(reversed(list_deliveries(session, get_pipeline(session, "logos"))))


# Subscribing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "target", "events", "says"),
    [
        ("sms", "+3161234", (), "one of email, webhook, not 'sms'"),
        ("email", "ivy@example.org\nBcc: eve@example.org", (), "LINE FEED"),
        ("email", "ivy.example.org", (), "not one address"),
        ("webhook", "ftp://example.org/hook", (), "not http:// or https://"),
        ("webhook", "https://user:pw@example.org/", (), "user name or password"),
        ("email", "ivy@example.org", ("deployed",), "the events are training-started, "),
    ],
)
def test_a_bad_subscriber_is_refused_saying_what_and_where(
    logos: Project, kind: str, target: str, events: tuple[str, ...], says: str
) -> None:
    with pytest.raises(InputError, match="cannot subscribe to pipeline 'logos'") as refused:
        add(logos, kind, target, *events)
    assert says in str(refused.value)
    with logos.session() as session:
        assert list_subscribers(session, get_pipeline(session, "logos")) == []


def test_a_webhook_gets_a_secret_and_a_short_one_is_refused(logos: Project) -> None:
    hook = add(logos, "webhook", "https://example.org/hook")
    assert hook.secret is not None and len(hook.secret) >= 32
    assert add(logos, "email", "ivy@example.org").secret is None
    with logos.session() as session, pytest.raises(InputError, match="16 to 128 characters"):
        subscribe(session, get_pipeline(session, "logos"), "webhook", "https://a.org/", secret="x")
    with logos.session() as session, pytest.raises(InputError, match="subscriber takes none"):
        subscribe(session, get_pipeline(session, "logos"), "email", "a@b.org", secret="x" * 20)


def test_a_target_subscribes_once_and_unsubscribes_only_from_its_pipeline(
    logos: Project,
) -> None:
    ivy = add(logos, "email", "ivy@example.org")
    with pytest.raises(InputError, match=f"already \\(subscriber {ivy.id}\\)"):
        add(logos, "email", "ivy@example.org", "error")
    with logos.session() as session:
        create_pipeline(session, PipelineSpec("other", "classification", "logos"))
        other = get_pipeline(session, "other")
        with pytest.raises(NotFound, match=f"pipeline 'other' has no subscriber {ivy.id}"):
            unsubscribe(session, other, ivy.id)
        gone = unsubscribe(session, get_pipeline(session, "logos"), ivy.id)
        assert gone.active is False
    assert add(logos, "email", "ivy@example.org").active  # again, after unsubscribing


# Notifying ------------------------------------------------------------------------------------


def test_a_notification_is_stored_and_queued_for_the_subscribers_that_want_it(
    logos: Project,
) -> None:
    every = add(logos, "email", "ivy@example.org")
    gates = add(logos, "webhook", "https://example.org/gates", "gate-failed", "error")
    gone = add(logos, "email", "old@example.org")
    with logos.session() as session:
        unsubscribe(session, get_pipeline(session, "logos"), gone.id)
    gate = tell(logos)
    started = tell(logos, "training-started", STARTED)
    queued = {(d.notification_id, d.subscriber_id) for d in deliveries(logos)}
    assert queued == {(gate, every.id), (gate, gates.id), (started, every.id)}
    assert all(d.next_attempt_at == T0.replace(tzinfo=None) for d in deliveries(logos))
    with logos.session() as session:
        [second, first] = list_notifications(session, get_pipeline(session, "logos"))
    assert (first.event, second.event) == ("gate-failed", "training-started")
    assert first.data == GATE
    assert first.subject == "[logos] logos.v3 not deployed: F1 0.71 < 0.80"
    assert "Label more images" in first.body


def test_a_notification_with_no_subscriber_is_still_logged(logos: Project) -> None:
    tell(logos, "training-started", STARTED)
    assert deliveries(logos) == []
    with logos.session() as session:
        [logged] = list_notifications(session, get_pipeline(session, "logos"))
    assert logged.event == "training-started"


def test_an_unknown_event_or_missing_facts_are_refused(logos: Project) -> None:
    with pytest.raises(InputError, match="pipeline 'logos': unknown pipeline event 'deployed'"):
        tell(logos, "deployed")
    with pytest.raises(InputError, match="needs the facts from_version"):
        tell(logos, "training-started", {"run_id": 1, "new_images": 1, "labeled_images": 2})
    with logos.session() as session, pytest.raises(InputError, match=f"1 to {MOST_LISTED}"):
        list_notifications(session, get_pipeline(session, "logos"), limit=0)


# Webhooks -------------------------------------------------------------------------------------


def test_a_webhook_gets_the_notification_signed(logos: Project, receiver: Receiver) -> None:
    hook = add(logos, "webhook", receiver.url + "/hook")
    notification = tell(logos)
    assert deliver_due(logos, now=T0) == 1
    [got] = receiver.requests
    assert got.path == "/hook"
    assert hook.secret is not None
    assert verify_signature(
        hook.secret, got.headers["x-truthloop-timestamp"], got.body,
        got.headers["x-truthloop-signature"], now=T0,
    )  # fmt: skip
    body = orjson.loads(got.body)
    assert set(body) == {"event", "pipeline", "subject", "body", "data", "id", "time"}
    assert (body["event"], body["pipeline"], body["data"]) == ("gate-failed", "logos", GATE)
    assert body["id"] == got.headers["x-truthloop-event-id"]
    assert body["id"] == f"truthloop-notification-{notification}"
    assert body["time"] == "2026-12-04T09:30:00Z"
    [delivery] = deliveries(logos)
    assert delivery.delivered_at is not None and delivery.last_status == 200
    assert deliver_due(logos, now=T0 + timedelta(hours=1)) == 0  # delivered: never again


def test_a_failing_webhook_is_tried_again_with_backoff(logos: Project, receiver: Receiver) -> None:
    receiver.answers = [500, 503]
    add(logos, "webhook", receiver.url)
    tell(logos)
    assert deliver_due(logos, now=T0) == 1
    first_wait = RETRY_FIRST_S * (1 + RETRY_JITTER)
    assert deliver_due(logos, now=T0 + timedelta(seconds=RETRY_FIRST_S - 1)) == 0  # not due yet
    t1 = T0 + timedelta(seconds=first_wait + 1)
    assert deliver_due(logos, now=t1) == 1
    t2 = t1 + timedelta(seconds=2 * first_wait + 1)
    assert deliver_due(logos, now=t2) == 1
    [delivery] = deliveries(logos)
    assert [entry["status"] for entry in delivery.attempts_log] == [500, 503, 200]
    assert delivery.attempts_log[0]["error"] == "answered HTTP 500"
    assert delivery.attempts == 3 and delivery.delivered_at == t2.replace(tzinfo=None)
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes every time


def test_an_unsubscribed_webhook_is_not_sent_its_pending_deliveries(
    logos: Project, receiver: Receiver
) -> None:
    hook = add(logos, "webhook", receiver.url)
    tell(logos)
    with logos.session() as session:
        unsubscribe(session, get_pipeline(session, "logos"), hook.id)
    assert deliver_due(logos, now=T0) == 0
    assert receiver.requests == []
    [delivery] = deliveries(logos)
    assert delivery.next_attempt_at is None
    assert delivery.last_error == "the subscriber was unsubscribed"


# E-mail ---------------------------------------------------------------------------------------


@pytest.fixture
def smtp(logos: Project) -> Iterator[Inbox]:
    """The project's SMTP settings pointed at a server on loopback."""
    with smtp_inbox() as (port, inbox):
        logos.settings = logos.settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
        )
        yield inbox


def test_an_email_subscriber_gets_the_subject_and_body(logos: Project, smtp: Inbox) -> None:
    ivy = add(logos, "email", "ivy@example.org")
    tell(logos)
    assert deliver_due(logos, now=T0) == 1
    [(to, message)] = smtp.messages
    assert to == ["ivy@example.org"]
    assert message["Subject"] == "[logos] logos.v3 not deployed: F1 0.71 < 0.80"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = " ".join(payload.decode().split())
    assert "logos.v3 scored F1 0.71 on its test split" in text
    assert f"`truthloop pipeline unsubscribe logos {ivy.id}`" in text
    [delivery] = deliveries(logos)
    assert delivery.delivered_at is not None and delivery.last_error is None


def test_email_waits_with_a_clear_error_when_no_smtp_server_is_set(logos: Project) -> None:
    add(logos, "email", "ivy@example.org")
    add(logos, "email", "bob@example.org")
    tell(logos)
    # The SMTP server is every address's: one try a round, the other address waits untried.
    assert deliver_due(logos, now=T0) == 1
    tried, waiting = deliveries(logos)
    assert tried.attempts == 1 and tried.delivered_at is None
    assert tried.last_error is not None and "set TRUTHLOOP_SMTP_HOST" in tried.last_error
    assert waiting.attempts == 0 and waiting.next_attempt_at == T0.replace(tzinfo=None)


# The backlog and parameter changes ------------------------------------------------------------


def test_the_backlog_is_told_once_a_crossing(logos: Project) -> None:
    add(logos, "email", "ivy@example.org", "review-backlog")
    told: list[int | None] = []
    with logos.session() as session:
        set_param(session, get_pipeline(session, "logos"), "Review-Backlog-Alert", 100)
    for open_loops in (99, 100, 180, 20, 150, 150):
        with logos.session() as session:
            notice = check_backlog(session, get_pipeline(session, "logos"), open_loops, now=T0)
            told.append(notice.data["open_loops"] if notice else None)
    assert told == [None, 100, None, None, 150, None]
    assert len(deliveries(logos)) == 2
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        assert pipeline.backlog_alerted_at == T0.replace(tzinfo=None)
        # A higher alert puts the same backlog below it: the next crossing is told again.
        set_param(session, pipeline, "Review-Backlog-Alert", 200)
        assert check_backlog(session, pipeline, 150, now=T0) is None
        assert pipeline.backlog_alerted_at is None


def test_a_parameter_change_is_told_and_setting_the_same_value_is_not(logos: Project) -> None:
    add(logos, "email", "ivy@example.org", "parameter-changed")
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        change = set_param(session, pipeline, "Minimum-F1-Score", 0.7, now=T0)
        set_param(session, pipeline, "Minimum-F1-Score", "0.7", now=T0)
        [told] = list_notifications(session, pipeline)
    assert told.event == "parameter-changed"
    assert told.data == {
        "run_id": change.run_id, "parameter": "Minimum-F1-Score", "old": "0.8", "new": "0.7",
        "changed_by": None,
    }  # fmt: skip
    assert "set logos Minimum-F1-Score 0.8`" in told.body
    assert len(deliveries(logos)) == 1


def test_every_event_can_be_subscribed_to_alone(logos: Project) -> None:
    for number, event in enumerate(EVENTS):
        add(logos, "email", f"r{number}@example.org", event)
    tell(logos)
    [delivery] = deliveries(logos)
    with logos.session() as session:
        subscriber = session.get_one(PipelineSubscriberRow, delivery.subscriber_id)
    assert subscriber.events == ["gate-failed"]
