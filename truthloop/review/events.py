"""Human-loop status changes, recorded in the shape A2I sends to EventBridge, and queued for
every webhook that wants them (review/webhooks.py delivers them, at least once).

A2I announces a loop's ends, Completed, Failed and Stopped, with `detail-type` "SageMaker A2I
HumanLoop Status Change" (FORMATS.md §2.5). The event is written in the same transaction as the
status change, and its deliveries with it, so a change is never announced without happening,
nor happens without being announced.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from truthloop.formats.a2i import flow_arn, human_loop_arn, timestamp
from truthloop.storage.tables import (
    FlowDefinitionRow,
    HumanLoopRow,
    ReviewEventRow,
    WebhookDeliveryRow,
    WebhookRow,
)

DETAIL_TYPE = "SageMaker A2I HumanLoop Status Change"
SOURCE = "aws.sagemaker"
REGION = "local"


def event_body(
    loop: HumanLoopRow, flow: FlowDefinitionRow, event_id: str, now: datetime
) -> dict[str, Any]:
    """The event as EventBridge carries A2I's: `detail` holds the loop's new status."""
    arn = human_loop_arn(loop.name)
    return {
        "version": "0",
        "id": event_id,
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": "000000000000",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [arn],
        "detail": {
            "creationTime": timestamp(loop.created_at),
            "failureCode": loop.failure_code,
            "failureReason": loop.failure_reason,
            "flowDefinitionArn": flow_arn(flow.name),
            "humanLoopArn": arn,
            "humanLoopName": loop.name,
            "humanLoopOutput": {"outputS3Uri": loop.output_uri} if loop.output_uri else None,
            "humanLoopStatus": loop.status,
        },
    }


def record_event(
    session: Session, loop: HumanLoopRow, flow: FlowDefinitionRow, now: datetime
) -> ReviewEventRow:
    """Record the loop's new status as an event and queue it for the webhooks of every flow
    and of this one."""
    event = ReviewEventRow(
        flow_id=flow.id, loop_name=loop.name, status=loop.status, body={}, created_at=now
    )
    session.add(event)
    session.flush()
    event.body = event_body(loop, flow, f"truthloop-event-{event.id}", now)
    hooks = session.scalars(
        select(WebhookRow.id).where(
            WebhookRow.active.is_(True),
            or_(WebhookRow.flow_id.is_(None), WebhookRow.flow_id == flow.id),
        )
    ).all()
    for hook in hooks:
        session.add(
            WebhookDeliveryRow(
                event_id=event.id,
                webhook_id=hook,
                attempts=0,
                next_attempt_at=now,
                attempts_log=[],
                created_at=now,
            )
        )
    return event


def events_by_id(session: Session, ids: Iterable[int]) -> dict[int, ReviewEventRow]:
    """The events with these ids (a delivery log names its event by id)."""
    wanted = sorted(set(ids))
    rows = session.scalars(select(ReviewEventRow).where(ReviewEventRow.id.in_(wanted)))
    return {event.id: event for event in rows}


def list_events(
    session: Session, *, flow_id: int | None = None, after: int = 0, limit: int = 100
) -> list[ReviewEventRow]:
    """Events in the order they happened, after event id `after` (to read them as a feed)."""
    query = select(ReviewEventRow).where(ReviewEventRow.id > after)
    if flow_id is not None:
        query = query.where(ReviewEventRow.flow_id == flow_id)
    return list(session.scalars(query.order_by(ReviewEventRow.id).limit(min(max(limit, 1), 1000))))
