"""Finding human loops: ListHumanLoops (a flow's loops by creation time, a page at a time,
filtered by time and status) and DescribeHumanLoop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from truthloop.core import review_terms as terms
from truthloop.errors import InputError
from truthloop.formats.a2i import flow_arn, human_loop_arn
from truthloop.labeling.jobs import db_time
from truthloop.review.flows import get_flow
from truthloop.review.loops import LoopStatus
from truthloop.storage.tables import FlowDefinitionRow, HumanLoopRow


@dataclass(frozen=True)
class LoopPage:
    loops: list[HumanLoopRow]
    next_token: str | None


def list_loops(
    session: Session,
    flow: str,
    *,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    status: str | None = None,
    ascending: bool = False,
    max_results: int = terms.MAX_RESULTS,
    next_token: str | None = None,
) -> LoopPage:
    """ListHumanLoops: a flow's loops by creation time (newest first unless `ascending`), a
    page at a time; `next_token` continues where the last page ended."""
    if isinstance(max_results, bool) or not 1 <= max_results <= terms.MAX_RESULTS:
        raise InputError(f"MaxResults must be from 1 to {terms.MAX_RESULTS}, not {max_results!r}")
    if status is not None and status not in set(LoopStatus):
        raise InputError(f"no loop status {status!r}; statuses: {', '.join(LoopStatus)}")
    flow_row = get_flow(session, flow)
    order = (HumanLoopRow.created_at, HumanLoopRow.id)
    query = select(HumanLoopRow).where(HumanLoopRow.flow_id == flow_row.id)
    if created_after is not None:
        query = query.where(HumanLoopRow.created_at >= db_time(created_after))
    if created_before is not None:
        query = query.where(HumanLoopRow.created_at < db_time(created_before))
    if status is not None:
        query = query.where(HumanLoopRow.status == status)
    if next_token is not None:
        query = query.where(HumanLoopRow.id.in_(_after_token(next_token, ascending)))
    query = query.order_by(*(c.asc() if ascending else c.desc() for c in order))
    rows = list(session.scalars(query.limit(max_results + 1)))
    more = len(rows) > max_results
    rows = rows[:max_results]
    token = _token(rows[-1]) if more and rows else None
    return LoopPage(rows, token)


def _token(last: HumanLoopRow) -> str:
    return f"{last.created_at.isoformat()}~{last.id}"


def _after_token(token: str, ascending: bool) -> Any:
    try:
        created, _, loop_id = token.partition("~")
        moment, after = datetime.fromisoformat(created), int(loop_id)
    except ValueError:
        raise InputError(f"NextToken {token[:40]!r} was not made by a listing") from None
    key, mark = (HumanLoopRow.created_at, HumanLoopRow.id), (moment, after)
    later = (key[0] > mark[0]) | ((key[0] == mark[0]) & (key[1] > mark[1]))
    earlier = (key[0] < mark[0]) | ((key[0] == mark[0]) & (key[1] < mark[1]))
    return select(HumanLoopRow.id).where(later if ascending else earlier)


def loop_counts(session: Session) -> dict[int, dict[str, int]]:
    """Each flow's loops counted by status: flow id -> status -> loops."""
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(HumanLoopRow.flow_id, HumanLoopRow.status, func.count()).group_by(
            HumanLoopRow.flow_id, HumanLoopRow.status
        )
    )
    for flow_id, status, n in rows:
        counts.setdefault(flow_id, {})[status] = n
    return counts


def loop_description(session: Session, loop: HumanLoopRow) -> dict[str, Any]:
    """`describe_loop` with the flow's name looked up."""
    return describe_loop(loop, session.get_one(FlowDefinitionRow, loop.flow_id).name)


def describe_loop(loop: HumanLoopRow, flow_name: str) -> dict[str, Any]:
    """DescribeHumanLoop's answer."""
    described: dict[str, Any] = {
        "CreationTime": loop.created_at.isoformat() + "Z",
        "HumanLoopStatus": loop.status,
        "HumanLoopName": loop.name,
        "HumanLoopArn": human_loop_arn(loop.name),
        "FlowDefinitionArn": flow_arn(flow_name),
        "FlowDefinitionName": flow_name,
    }
    if loop.failure_code:
        described["FailureCode"] = loop.failure_code
        described["FailureReason"] = loop.failure_reason
    if loop.output_uri:
        described["HumanLoopOutput"] = {"OutputS3Uri": loop.output_uri}
    return described
