"""Webhooks get each human-loop event they want, signed, over real HTTP on loopback: once when
the receiver answers 2xx, again with backoff when it does not, never twice at once however many
workers deliver, and not at all to a webhook of another flow or a removed one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.receivers import Receiver, http_receiver
from tests.services import free_port
from truthloop.core.types import LabelSet
from truthloop.errors import InputError, NotFound
from truthloop.labeling.jobs import create_custom_job
from truthloop.review import webhooks
from truthloop.review.events import record_event
from truthloop.review.webhooks import (
    MAX_ATTEMPTS,
    add_webhook,
    deliver_due,
    list_deliveries,
    list_webhooks,
    remove_webhook,
    retry_delay_s,
    sign,
    verify_signature,
)
from truthloop.runtime import work
from truthloop.runtime.background import BackgroundWorker
from truthloop.storage.datasets import create_dataset
from truthloop.storage.db import Database
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    HumanLoopRow,
    HumanTaskUiRow,
    ItemRow,
    TeamRow,
    WebhookDeliveryRow,
    utcnow,
)

# Receiver -------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as state:
        yield state


# Flows, loops and their events, as rows -------------------------------------------------------


@dataclass
class Scene:
    project: Project
    flows: dict[str, int]
    item: int
    loops: int = 0

    def event(self, flow: str = "pets", now: datetime | None = None) -> dict[str, Any]:
        """A loop of `flow` completed: its event, queued for the webhooks as loops.py does."""
        moment = now or utcnow()
        self.loops += 1
        with self.project.session() as session:
            loop = HumanLoopRow(
                name=f"loop-{self.loops}",
                flow_id=self.flows[flow],
                item_id=self.item,
                input_content="{}",
                input_sha256="0" * 64,
                status="Completed",
                created_at=moment,
                ended_at=moment,
            )
            session.add(loop)
            session.flush()
            flow_row = session.get_one(FlowDefinitionRow, self.flows[flow])
            return record_event(session, loop, flow_row, moment).body

    def hook(self, url: str, flow: str | None = None) -> tuple[int, str]:
        with self.project.session() as session:
            row, secret = add_webhook(
                session, url, flow_id=None if flow is None else self.flows[flow]
            )
            return row.id, secret

    def deliveries(self, webhook_id: int | None = None) -> list[WebhookDeliveryRow]:
        with self.project.session() as session:
            return sorted(list_deliveries(session, webhook_id=webhook_id), key=lambda d: d.id)


@pytest.fixture
def scene(project: Project) -> Scene:
    return _scene(project)


@pytest.fixture
def sqlite_scene(sqlite_project: Project) -> Scene:
    return _scene(sqlite_project)


def _scene(project: Project) -> Scene:
    """Two flows, "pets" and "cars", built as rows (their services are tested elsewhere)."""
    with project.session() as session:
        team = TeamRow(name="reviewers")
        ui = HumanTaskUiRow(name="boxes-ui", template="<crowd-form></crowd-form>")
        session.add_all([team, ui])
        session.flush()
        dataset = create_dataset(session, "review-pets", LabelSet.from_names(["cat"]))
        job = create_custom_job(
            session,
            name="review-pets",
            dataset_id=dataset.id,
            team_id=team.id,
            instructions="",
            workers_per_item=1,
            task_time_limit_s=300,
            task_lifetime_s=3600,
        )
        item = ItemRow(dataset_id=dataset.id, uri="s3://bucket/cat.jpg")
        session.add(item)
        flows = {
            name: FlowDefinitionRow(
                name=name,
                team_id=team.id,
                ui_id=ui.id,
                job_id=job.id,
                dataset_id=dataset.id,
                title="Check",
                task_count=1,
                lifetime_s=3600,
                time_limit_s=300,
                output="/tmp/out",
                status="Active",
            )
            for name in ("pets", "cars")
        }
        session.add_all(flows.values())
        session.flush()
        return Scene(project, {name: flow.id for name, flow in flows.items()}, item.id)


# Delivery --------------------------------------------------------------------------------------


def test_an_event_is_delivered_once_and_signed(scene: Scene, receiver: Receiver) -> None:
    """On SQLite and on PostgreSQL."""
    hook, secret = scene.hook(receiver.url + "/hook")
    body = scene.event()
    assert deliver_due(scene.project) == 1
    assert deliver_due(scene.project) == 0  # delivered: never again
    [got] = receiver.requests
    assert got.path == "/hook"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-truthloop-event-id"] == body["id"] == orjson.loads(got.body)["id"]
    assert orjson.loads(got.body) == body
    assert body["detail-type"] == "SageMaker A2I HumanLoop Status Change"
    assert abs(int(got.headers["x-truthloop-timestamp"]) - time.time()) < 60
    assert verify_signature(
        secret,
        got.headers["x-truthloop-timestamp"],
        got.body,
        got.headers["x-truthloop-signature"],
    )
    [delivery] = scene.deliveries(hook)
    assert got.delivery == delivery.id
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert delivery.attempts == 1 and delivery.last_status == 200 and delivery.last_error is None
    [attempt] = delivery.attempts_log
    assert attempt["status"] == 200 and attempt["error"] is None and attempt["ms"] >= 0


def test_a_refused_event_is_sent_again_after_backoff_byte_for_byte(
    scene: Scene, receiver: Receiver
) -> None:
    """On SQLite and on PostgreSQL: 500, then a redirect (not followed), then 200."""
    receiver.answers = [500, 302]
    hook, secret = scene.hook(receiver.url + "/hook")
    t0 = utcnow().replace(microsecond=0)
    scene.event(now=t0)

    assert deliver_due(scene.project, now=t0) == 1
    [delivery] = scene.deliveries(hook)
    assert delivery.attempts == 1 and delivery.last_status == 500
    assert delivery.last_error == "answered HTTP 500" and delivery.delivered_at is None
    assert delivery.next_attempt_at is not None
    assert t0 + timedelta(seconds=10) <= delivery.next_attempt_at <= t0 + timedelta(seconds=11)

    assert deliver_due(scene.project, now=t0 + timedelta(seconds=9)) == 0  # not due yet
    t1 = t0 + timedelta(seconds=11)
    assert deliver_due(scene.project, now=t1) == 1
    [delivery] = scene.deliveries(hook)
    assert delivery.attempts == 2 and delivery.last_status == 302
    assert delivery.next_attempt_at is not None
    assert t1 + timedelta(seconds=20) <= delivery.next_attempt_at <= t1 + timedelta(seconds=22)

    t2 = t1 + timedelta(seconds=22)
    assert deliver_due(scene.project, now=t2) == 1
    [delivery] = scene.deliveries(hook)
    assert delivery.delivered_at == t2 and delivery.attempts == 3
    assert [a["status"] for a in delivery.attempts_log] == [500, 302, 200]
    assert [a["at"][:19] for a in delivery.attempts_log] == [
        t.strftime("%Y-%m-%dT%H:%M:%S") for t in (t0, t1, t2)
    ]
    assert all(isinstance(a["ms"], int) for a in delivery.attempts_log)

    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes every time
    assert len({r.headers["x-truthloop-event-id"] for r in receiver.requests}) == 1
    for sent, moment in zip(receiver.requests, (t0, t1, t2), strict=True):
        stamp = sent.headers["x-truthloop-timestamp"]
        signature = sent.headers["x-truthloop-signature"]
        assert verify_signature(secret, stamp, sent.body, signature, now=moment)
    assert deliver_due(scene.project, now=t2 + timedelta(days=1)) == 0


def test_a_delivery_is_given_up_after_the_last_attempt(
    sqlite_scene: Scene, receiver: Receiver
) -> None:
    receiver.answers = [503] * 100
    hook, _ = sqlite_scene.hook(receiver.url)
    moment = utcnow()
    sqlite_scene.event(now=moment)
    for _ in range(MAX_ATTEMPTS):
        assert deliver_due(sqlite_scene.project, now=moment) == 1
        moment += timedelta(hours=2)
    assert deliver_due(sqlite_scene.project, now=moment + timedelta(days=30)) == 0
    assert len(receiver.requests) == MAX_ATTEMPTS
    [delivery] = sqlite_scene.deliveries(hook)
    assert delivery.next_attempt_at is None and delivery.delivered_at is None
    assert delivery.attempts == MAX_ATTEMPTS == len(delivery.attempts_log)
    assert delivery.last_error == f"gave up after {MAX_ATTEMPTS} attempts: answered HTTP 503"
    with sqlite_scene.project.session() as session:
        assert list_deliveries(session, pending_only=True) == []
        assert len(list_deliveries(session)) == 1


def test_the_backoff_doubles_up_to_an_hour_with_a_little_jitter() -> None:
    assert [retry_delay_s(n, lambda: 0.0) for n in range(1, 13)] == [
        10,
        20,
        40,
        80,
        160,
        320,
        640,
        1280,
        2560,
        3600,
        3600,
        3600,
    ]
    assert retry_delay_s(1, lambda: 1.0) == pytest.approx(11.0)
    assert retry_delay_s(20, lambda: 1.0) == pytest.approx(3960.0)


def test_a_receiver_that_is_down_costs_one_attempt_a_round(sqlite_scene: Scene) -> None:
    """Connection refused: the first delivery is logged and retried later; the webhook's other
    deliveries are given back untried, still due."""
    hook, _ = sqlite_scene.hook(f"http://127.0.0.1:{free_port()}/hook")
    moment = utcnow()
    sqlite_scene.event(now=moment)
    sqlite_scene.event(now=moment)
    assert deliver_due(sqlite_scene.project, now=moment) == 1
    first, second = sqlite_scene.deliveries(hook)
    assert first.attempts == 1 and first.last_status is None
    assert first.last_error is not None and "Connect" in first.last_error
    assert first.attempts_log[0]["status"] is None
    assert second.attempts == 0 and second.next_attempt_at == moment  # untried, due as before
    assert deliver_due(sqlite_scene.project, now=moment) == 1  # now the second one
    assert sqlite_scene.deliveries(hook)[1].attempts == 1


def test_a_receiver_too_slow_to_answer_times_out(sqlite_scene: Scene, receiver: Receiver) -> None:
    receiver.delay_s = 1.0
    hook, _ = sqlite_scene.hook(receiver.url)
    sqlite_scene.event()
    with httpx.Client(timeout=0.2) as client:
        assert deliver_due(sqlite_scene.project, client=client) == 1
    [delivery] = sqlite_scene.deliveries(hook)
    assert delivery.delivered_at is None and delivery.attempts == 1
    assert delivery.last_error == "no answer in time (timed out)"
    assert delivery.next_attempt_at is not None


def test_only_active_webhooks_of_the_flow_or_of_every_flow_get_its_events(
    scene: Scene, receiver: Receiver
) -> None:
    """On SQLite and on PostgreSQL."""
    every, _ = scene.hook(receiver.url + "/every")
    pets, _ = scene.hook(receiver.url + "/pets", "pets")
    cars, _ = scene.hook(receiver.url + "/cars", "cars")
    gone_before, _ = scene.hook(receiver.url + "/gone-before")
    gone_after, _ = scene.hook(receiver.url + "/gone-after", "pets")
    with scene.project.session() as session:
        remove_webhook(session, gone_before)
    scene.event("pets")
    with scene.project.session() as session:
        remove_webhook(session, gone_after)
        remove_webhook(session, gone_after)  # again: nothing changes
        with pytest.raises(NotFound):
            remove_webhook(session, 9999)
    assert deliver_due(scene.project) == 2
    assert sorted(r.path for r in receiver.requests) == ["/every", "/pets"]
    assert scene.deliveries(cars) == [] and scene.deliveries(gone_before) == []
    [kept] = scene.deliveries(gone_after)  # its log stays readable
    assert kept.delivered_at is None and kept.next_attempt_at is None
    assert kept.last_error == "the webhook was removed"
    with scene.project.session() as session:
        assert [h.id for h in list_webhooks(session)] == [
            every,
            pets,
            cars,
            gone_before,
            gone_after,
        ]
        assert [h.id for h in list_webhooks(session, active_only=True)] == [every, pets, cars]
        assert list_deliveries(session, pending_only=True) == []


def test_two_workers_never_send_one_delivery_twice(scene: Scene, receiver: Receiver) -> None:
    """On SQLite and on PostgreSQL: two workers, each with its own engine as two processes
    would have, take small batches at once until nothing is left."""
    receiver.delay_s = 0.005
    scene.hook(receiver.url + "/a")
    scene.hook(receiver.url + "/b")
    for _ in range(15):
        scene.event()
    other = Database(scene.project.db.url)
    start = threading.Barrier(2)
    tried: list[int] = []
    failures: list[BaseException] = []

    def work(db: Database) -> None:
        try:
            start.wait()
            while n := deliver_due(db, limit=3):
                tried.append(n)
        except BaseException as error:  # pragma: no cover - shown by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(db,)) for db in (scene.project.db, other)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        other.dispose()
    assert failures == []
    sent = [r.delivery for r in receiver.requests]
    assert len(sent) == len(set(sent)) == 30 == sum(tried)
    assert all(d.delivered_at is not None for d in scene.deliveries())


def test_the_background_worker_delivers_each_round_even_when_loops_fail(
    sqlite_scene: Scene, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(project: Project, **_: Any) -> int:
        raise RuntimeError("loops are broken")

    monkeypatch.setattr(work, "advance_loops", broken)  # the sweep's step
    hook, _ = sqlite_scene.hook(receiver.url)
    sqlite_scene.event()
    assert BackgroundWorker(sqlite_scene.project).run_once() == []
    assert len(receiver.requests) == 1
    assert sqlite_scene.deliveries(hook)[0].delivered_at is not None


# The registry ---------------------------------------------------------------------------------


REFUSED_URLS = [
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "https://user:secret@example.com/hook",
    "https://token@example.com/hook",
    "https://example.com/ho\x00ok",
    "https://example.com/hook\r\nX-Injected: 1",
    "https://example.com/\u202ekoob",
    "https://example.com/a b",
    "https:///no-host",
    "https://example.com:99999/hook",
    "https://example.com/" + "a" * 2048,
    "",
]


def test_a_webhook_url_must_be_plain_http(sqlite_scene: Scene) -> None:
    with sqlite_scene.project.session() as session:
        for url in REFUSED_URLS:
            with pytest.raises(InputError, match="webhook URL"):
                add_webhook(session, url)
        assert list_webhooks(session) == []


def test_a_webhook_has_a_secret_of_its_own_and_a_known_flow(sqlite_scene: Scene) -> None:
    with sqlite_scene.project.session() as session:
        first, secret = add_webhook(session, "HTTPS://hooks.example.com:8443/a?x=1#f")
        second, other = add_webhook(
            session, "http://10.0.0.5/b", flow_id=sqlite_scene.flows["cars"]
        )
        assert len(secret) >= 43 and secret != other
        assert first.secret == secret and first.active and first.flow_id is None
        assert second.flow_id == sqlite_scene.flows["cars"]
        with pytest.raises(NotFound):
            add_webhook(session, "https://example.com/", flow_id=9999)


# Signatures -----------------------------------------------------------------------------------


def test_a_signature_holds_only_for_its_secret_body_and_time() -> None:
    body = b'{"id":"truthloop-event-1"}'
    stamp = 1_900_000_000
    signature = sign("s3cret", stamp, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature("s3cret", stamp, body, signature, now=stamp + 10)
    assert verify_signature(
        "s3cret", str(stamp), body, signature, now=datetime.fromtimestamp(stamp, UTC)
    )
    assert not verify_signature("s3cret", stamp, body + b" ", signature, now=stamp)  # tampered
    assert not verify_signature("other", stamp, body, signature, now=stamp)  # wrong secret
    assert not verify_signature("s3cret", stamp, body, signature, now=stamp + 301)  # replayed
    assert not verify_signature("s3cret", stamp, body, signature, now=stamp - 301)
    assert verify_signature("s3cret", stamp, body, signature, now=stamp + 3000, tolerance_s=3600)
    assert not verify_signature("s3cret", stamp + 1, body, signature, now=stamp)  # re-stamped
    assert not verify_signature("s3cret", "soon", body, signature, now=stamp)
    assert not verify_signature("s3cret", stamp, body, signature[7:], now=stamp)
    assert not verify_signature("s3cret", stamp, body, "sha256=00", now=stamp)
    assert not verify_signature("s3cret", stamp, body, signature)  # the clock's now: years away


def test_the_body_sent_does_not_depend_on_key_order() -> None:
    assert (
        webhooks.event_bytes({"b": 1, "a": {"d": 2, "c": None}})
        == webhooks.event_bytes({"a": {"c": None, "d": 2}, "b": 1})
        == b'{"a":{"c":null,"d":2},"b":1}'
    )
