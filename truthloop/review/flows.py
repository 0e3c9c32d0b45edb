"""Human review workflows (A2I's flow definitions): which team reviews, with which task page,
on what terms, when a prediction is worth a person's look, and where the answers go.

A flow's loops are worked as the items of a custom-template labeling job on the flow's own
dataset, both named `review-<flow>`: reviewers find them under "My jobs" and take them under
the same leases as any labeling task (labeling/tasks.py), `task_count` of them per loop.

A flow is created Initializing and becomes Active once its output location took a test write,
or Failed with the reason (A2I's FlowDefinitionStatus). A running model version may be
attached: detect calls on it then route their predictions through the flow (review/routing.py).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from truthloop.core import review_terms as terms
from truthloop.core.activation import ConditionError, conditions_json, parse_conditions
from truthloop.core.text import TEXT, text_problem
from truthloop.core.types import LabelSet
from truthloop.errors import AlreadyExists, InputError, InvalidName, NotFound, UnsafePath
from truthloop.formats.a2i import flow_arn
from truthloop.formats.paths import resolve_local
from truthloop.labeling.jobs import create_custom_job
from truthloop.ml.versions import find_version
from truthloop.people import get_team
from truthloop.review.task_uis import get_task_ui
from truthloop.storage import datasets as store
from truthloop.storage.blobs import remove_uri, write_uri
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    HumanLoopRow,
    HumanTaskUiRow,
    JobRow,
    TeamRow,
    utcnow,
)


class FlowStatus(StrEnum):
    INITIALIZING = "Initializing"
    ACTIVE = "Active"
    FAILED = "Failed"
    DELETING = "Deleting"


# The loop statuses under which a flow still has work out (review/loops.py names them all).
OPEN_LOOP_STATUSES = ("InProgress", "Stopping")


@dataclass(frozen=True)
class FlowSpec:
    """What CreateFlowDefinition takes, in truthloop's words. `output` is a folder (inside the
    project home or the allowed roots) or an `s3://` prefix; `conditions` A2I's activation
    conditions (a JSON string or its parsed form; None: every request is reviewed)."""

    name: str
    team: str
    task_ui: str
    title: str
    output: str
    description: str = ""
    task_count: int = terms.TASK_COUNT.default
    lifetime_s: int = terms.TASK_LIFETIME_S.default
    time_limit_s: int = terms.TASK_TIME_LIMIT_S.default
    conditions: str | dict[str, Any] | None = None
    model_version: str | None = None


def flow_resource_name(flow: str) -> str:
    """The name of the dataset and of the labeling job that hold a flow's loops."""
    return f"review-{flow}"


def create_flow(
    project: Project, spec: FlowSpec, *, created_by: int | None = None
) -> FlowDefinitionRow:
    """Create the flow with its dataset and job, then check its output location: Active, or
    Failed with the reason (kept, so the manager sees why). InputError for a spec that is
    wrong in itself (nothing is stored then)."""
    conditions = _check_spec(spec)
    output = check_output(project, spec.output)
    with project.db.session() as session:
        if session.scalar(select(FlowDefinitionRow.id).where(FlowDefinitionRow.name == spec.name)):
            raise AlreadyExists(f"a flow definition named {spec.name!r} already exists")
        flow = _store_flow(session, spec, conditions, output, created_by)
        flow_id = flow.id
    problem = _output_problem(project, output, spec.name)
    with project.db.session() as session:
        flow = session.get_one(FlowDefinitionRow, flow_id)
        flow.status = FlowStatus.FAILED if problem else FlowStatus.ACTIVE
        flow.failure_reason = problem
        session.flush()
        session.expunge(flow)
    return flow


def _check_spec(spec: FlowSpec) -> dict[str, Any] | None:
    if problem := terms.a2i_name_problem("flow definition", spec.name):
        raise InvalidName(problem)
    texts = (
        ("task title", spec.title, terms.TASK_TITLE_CHARS),
        ("task description", spec.description, terms.TASK_DESCRIPTION_CHARS),
    )
    for field, value, most in texts:
        if not isinstance(value, str) or len(value) > most:
            raise InputError(f"the {field} must be text of at most {most} characters")
        if problem := text_problem(field, value, TEXT):
            raise InputError(problem)
    if not spec.title.strip():
        raise InputError("a flow definition needs a task title: what reviewers see in their list")
    for term, number in (
        (terms.TASK_COUNT, spec.task_count),
        (terms.TASK_LIFETIME_S, spec.lifetime_s),
        (terms.TASK_TIME_LIMIT_S, spec.time_limit_s),
    ):
        if problem := term.problem(number):
            raise InputError(problem)
    if spec.conditions is None:
        return None
    try:
        return conditions_json(parse_conditions(spec.conditions))
    except ConditionError as error:
        raise InputError(f"activation conditions: {error}") from None


def check_output(project: Project, output: str) -> str:
    """The output location as stored: an `s3://bucket/prefix`, or the real path of a folder
    inside the project home or the allowed roots (made if missing)."""
    if not isinstance(output, str) or not output.strip():
        raise InputError("a flow definition needs an output location: a folder or an s3:// prefix")
    if problem := text_problem("output location", output):
        raise InputError(problem)
    if output.startswith("s3://"):
        if len(output.rstrip("/")) <= len("s3://"):
            raise InputError(f"output location {output!r} names no bucket")
        return output.rstrip("/")
    if "://" in output:
        raise InputError(f"output location {output!r}: give a folder or an s3:// prefix")
    folder = Path(output) if os.path.isabs(output) else project.home / output
    parent = folder
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        resolve_local(str(parent), base=project.home, allowed_roots=project.allowed_roots)
    except UnsafePath as error:
        raise InputError(f"output location: {error}") from None
    return str(folder.resolve())


def _output_problem(project: Project, output: str, flow: str) -> str | None:
    """Why nothing can be written under `output`, found by writing and removing a file."""
    probe = f"{output}/{flow}/.truthloop-write-check-{uuid.uuid4().hex}"
    endpoint = project.settings.s3_endpoint_url
    try:
        write_uri(probe, b"truthloop checks that it can write here\n", s3_endpoint_url=endpoint)
        remove_uri(probe, s3_endpoint_url=endpoint)
    except Exception as error:  # whatever the storage says is the reason the flow failed
        return f"cannot write to the output location {output}: {error}"
    return None


def _store_flow(
    session: Session,
    spec: FlowSpec,
    conditions: dict[str, Any] | None,
    output: str,
    created_by: int | None,
) -> FlowDefinitionRow:
    team = get_team(session, spec.team)
    ui = get_task_ui(session, spec.task_ui)
    if spec.model_version is not None:
        check_model_version(session, spec.model_version)
    name = flow_resource_name(spec.name)
    if store.find_dataset(session, name) is not None:
        raise AlreadyExists(
            f"a dataset named {name!r} already exists; it would hold this flow's loops"
        )
    if session.scalar(select(JobRow.id).where(JobRow.name == name)) is not None:
        raise AlreadyExists(
            f"a job named {name!r} already exists; it would hand out this flow's tasks"
        )
    dataset = store.create_dataset(
        session, name, LabelSet({}), description=f"the human loops of review flow {spec.name}"
    )
    job = create_custom_job(
        session,
        name=name,
        dataset_id=dataset.id,
        team_id=team.id,
        instructions=spec.description,
        workers_per_item=spec.task_count,
        task_time_limit_s=spec.time_limit_s,
        task_lifetime_s=spec.lifetime_s,
        created_by=created_by,
    )
    flow = FlowDefinitionRow(
        name=spec.name,
        team_id=team.id,
        ui_id=ui.id,
        job_id=job.id,
        dataset_id=dataset.id,
        title=spec.title,
        description=spec.description,
        task_count=spec.task_count,
        lifetime_s=spec.lifetime_s,
        time_limit_s=spec.time_limit_s,
        output=output,
        conditions=conditions,
        model_version=spec.model_version,
        status=FlowStatus.INITIALIZING.value,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(flow)
    session.flush()
    return flow


def get_flow(session: Session, name: str) -> FlowDefinitionRow:
    """A flow by name; NotFound names the flows that exist."""
    flow = session.scalar(select(FlowDefinitionRow).where(FlowDefinitionRow.name == name))
    if flow is None:
        known = session.scalars(
            select(FlowDefinitionRow.name).order_by(FlowDefinitionRow.name).limit(20)
        ).all()
        raise NotFound(f"no flow definition {name!r} (flows: {', '.join(known) or 'none'})")
    return flow


def list_flows(session: Session) -> list[FlowDefinitionRow]:
    """Every flow, newest first."""
    return list(session.scalars(select(FlowDefinitionRow).order_by(FlowDefinitionRow.id.desc())))


def flow_names(session: Session) -> dict[int, str]:
    """Every flow's name by its id."""
    rows = session.execute(select(FlowDefinitionRow.id, FlowDefinitionRow.name))
    return {flow_id: name for flow_id, name in rows}


def attach_model(session: Session, flow_name: str, version: str | None) -> FlowDefinitionRow:
    """Route `version`'s detect calls through the flow (None: detach it); NotFound for a
    version that does not exist."""
    flow = get_flow(session, flow_name)
    if version is not None:
        check_model_version(session, version)
    flow.model_version = version
    return flow


def check_model_version(session: Session, version: object) -> None:
    """NotFound unless `version` names a model version of this project."""
    if not isinstance(version, str) or text_problem("version", version):
        raise InputError(f"model version {version!r} is not a version name")
    find_version(session, version)


def delete_flow(session: Session, name: str) -> None:
    """Delete the flow, its loops and the dataset and job that held them; the output files
    stay where they were written. Refused while a loop is in progress or stopping."""
    flow = get_flow(session, name)
    open_loops = session.scalar(
        select(func.count())
        .select_from(HumanLoopRow)
        .where(HumanLoopRow.flow_id == flow.id, HumanLoopRow.status.in_(OPEN_LOOP_STATUSES))
    )
    if open_loops:
        raise InputError(
            f"flow definition {name!r} has {open_loops} human loop(s) in progress or stopping:"
            " stop them first (`truthloop review loop stop NAME`)"
        )
    job, dataset = session.get_one(JobRow, flow.job_id), flow.dataset_id
    session.delete(flow)
    session.flush()
    session.delete(job)
    session.delete(session.get_one(store.DatasetRow, dataset))


def flow_description(session: Session, flow: FlowDefinitionRow) -> dict[str, Any]:
    """`describe_flow` with the team's and the template's names looked up."""
    team = session.get_one(TeamRow, flow.team_id).name
    ui = session.get_one(HumanTaskUiRow, flow.ui_id).name
    return describe_flow(flow, team, ui)


def describe_flow(flow: FlowDefinitionRow, team: str, ui: str) -> dict[str, Any]:
    """The flow as DescribeFlowDefinition reports it (with truthloop's own additions)."""
    return {
        "FlowDefinitionName": flow.name,
        "FlowDefinitionArn": flow_arn(flow.name),
        "FlowDefinitionStatus": flow.status,
        "FailureReason": flow.failure_reason,
        "CreationTime": flow.created_at.isoformat() + "Z",
        "HumanLoopConfig": {
            "Workteam": team,
            "HumanTaskUi": ui,
            "TaskTitle": flow.title,
            "TaskDescription": flow.description,
            "TaskCount": flow.task_count,
            "TaskAvailabilityLifetimeInSeconds": flow.lifetime_s,
            "TaskTimeLimitInSeconds": flow.time_limit_s,
        },
        "HumanLoopActivationConditions": (
            json.dumps(flow.conditions) if flow.conditions is not None else None
        ),
        "OutputConfig": {"S3OutputPath": flow.output},
        "ModelVersion": flow.model_version,
    }
