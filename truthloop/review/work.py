"""A reviewer's side of a human loop: the task page rendered from the flow's template for the
loop's input, the images it may show, and the answer taken in.

Reviewers get a loop's tasks as any labeling task (`labeling.next_task` on the flow's job);
the page is rendered for the reviewer who holds the task, with `grant_read_access` links signed
for them and that loop alone (review/grants.py). A link may open only an `s3://` object or a
file inside the project home or the allowed roots: the input is written by whoever started the
loop, and must not make the server read anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.errors import InputError, NotFound, PermissionDenied, UnsafePath
from truthloop.formats.paths import resolve_local
from truthloop.labeling.jobs import TaskStatus
from truthloop.labeling.tasks import SubmitResult, TaskView, submit
from truthloop.review.grants import GRANT_SECONDS, Grant, grant_for, open_grant
from truthloop.review.loops import ENDED, complete_loop, parse_input
from truthloop.review.templates import render_template
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    HumanLoopRow,
    HumanTaskUiRow,
    TaskRow,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReviewTask:
    """What the portal shows around a review task's page."""

    loop: str
    flow: str
    title: str
    description: str


def loop_of_task(
    session: Session, job_id: int, item_id: int
) -> tuple[HumanLoopRow, FlowDefinitionRow]:
    """The loop a task of a flow's job belongs to; NotFound for a task of any other job."""
    row = session.execute(
        select(HumanLoopRow, FlowDefinitionRow)
        .join(FlowDefinitionRow, FlowDefinitionRow.id == HumanLoopRow.flow_id)
        .where(FlowDefinitionRow.job_id == job_id, HumanLoopRow.item_id == item_id)
    ).first()
    if row is None:
        raise NotFound("this task is not a human loop's")
    return row[0], row[1]


def review_task(project: Project, task: TaskView) -> ReviewTask:
    """The loop and flow a review task belongs to."""
    with project.session() as session:
        loop, flow = loop_of_task(session, task.job_id, task.item_id)
        return ReviewTask(loop.name, flow.name, flow.title, flow.description)


def review_page(
    project: Project,
    task: TaskView,
    user_id: int,
    *,
    secret: str | bytes,
    now: datetime | None = None,
) -> str:
    """The task page for the reviewer holding `task`, rendered from the flow's template."""
    moment = now or datetime.now(UTC)
    with project.session() as session:
        loop, flow = loop_of_task(session, task.job_id, task.item_id)
        template = session.get_one(HumanTaskUiRow, flow.ui_id).template
        loop_name, task_input = loop.name, parse_input(loop.input_content)
    grant = grant_for(
        secret,
        loop=loop_name,
        user_id=user_id,
        expires_at=moment + timedelta(seconds=GRANT_SECONDS),
        check=lambda uri: check_grant_target(project, uri),
    )
    return render_template(template, task_input, grant=grant)


def check_grant_target(project: Project, uri: object) -> None:
    """Refuse a URI a task page may not open: anything but an `s3://` object or a file inside
    the project home or the allowed roots."""
    if not isinstance(uri, str) or not uri:
        raise InputError(f"grant_read_access takes a URI, not {uri!r}")
    if uri.startswith("s3://"):
        if len(uri) <= len("s3://") or "/" not in uri[len("s3://") :]:
            raise InputError(f"grant_read_access: {uri!r} names no object")
        return
    try:
        resolve_local(uri, base=project.home, allowed_roots=project.allowed_roots)
    except UnsafePath as error:
        raise InputError(f"grant_read_access: {error}") from None


def granted_target(
    project: Project, secret: str | bytes, token: str, *, now: datetime | None = None
) -> Grant:
    """What a link opens, while its loop is still there; PermissionDenied otherwise (forged,
    expired, or for a loop that was deleted)."""
    grant = open_grant(secret, token, now=now or datetime.now(UTC))
    with project.session() as session:
        exists = session.scalar(select(HumanLoopRow.id).where(HumanLoopRow.name == grant.loop))
    if exists is None:
        raise PermissionDenied("this image link is for a human loop that no longer exists")
    check_grant_target(project, grant.target)
    return grant


def submit_review(
    project: Project,
    task_id: int,
    user_id: int,
    *,
    client_id: str,
    answer: Mapping[str, Any],
    seconds: float,
    now: datetime | None = None,
) -> SubmitResult:
    """Store a reviewer's answer (the form's output, kept as given) and, when it was the
    loop's last, complete the loop: its output.json is written before this returns. Should
    writing fail, the answer is kept and the background worker completes the loop later."""
    with project.session() as session:
        task = session.get(TaskRow, task_id)
        if task is None:
            raise NotFound(f"no task {task_id}")
        loop, _ = loop_of_task(session, task.job_id, task.item_id)
        if loop.status in ENDED and task.status != TaskStatus.SUBMITTED:
            raise InputError(f"human loop {loop.name!r} is {loop.status}; nothing more is taken")
        name = loop.name
    result = submit(
        project.db, task_id, user_id, client_id=client_id, answer=answer, seconds=seconds, now=now
    )
    if result.item_done and not result.duplicate:
        try:
            complete_loop(project, name, now=now)
        except Exception:  # the answer is stored; advance_loops writes the output later
            log.exception("human loop %s: its output could not be written yet", name)
    return result
