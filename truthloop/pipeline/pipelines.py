"""Pipelines: one per model project, the continuous improvement of its model (workflow 4).

A pipeline is named as its model project (`logos` trains logos.v1, logos.v2...) and holds the
task (classification or detection), the training dataset the reviewed images go to, the review
flow low-confidence detections go to (none: nothing is reviewed), the version it serves, and
how many labeled images that version trained on, against which the next training is weighed.

A pipeline is created with every parameter stored at its default (`params.py`), as the seed's
stack creates its ten parameters when it is deployed: the values in force are then the stored
ones, which a later release's new default cannot change behind anyone's back, and every
change to them is one a person made and the history shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.core.names import name_problem
from truthloop.core.pipeline_params import PARAMETERS
from truthloop.errors import AlreadyExists, InputError, InvalidName, NotFound
from truthloop.labeling.jobs import db_time
from truthloop.ml.backend import ModelBackend
from truthloop.ml.versions import backend_kind, find_version, params_json
from truthloop.review import get_flow
from truthloop.storage.datasets import get_dataset
from truthloop.storage.tables import PipelineParamRow, PipelineRow

TASKS = ("classification", "detection")
"""What a pipeline's model does: a label per image, or boxes."""


@dataclass(frozen=True)
class PipelineSpec:
    """What a pipeline is created with: its name (the model project's), task, training
    dataset (which must exist), review flow (which must exist; None: no review), and the
    untrained model its first version trains as (None: the built-in model for the task)."""

    name: str
    task: str
    dataset: str
    flow: str | None = None
    model: ModelBackend | None = None


def create_pipeline(
    session: Session, spec: PipelineSpec, *, created_by: int | None = None
) -> PipelineRow:
    """Store the pipeline with every parameter at its default. InvalidName, InputError for a
    task it does not know, NotFound for a dataset or flow that does not exist, AlreadyExists
    for a name taken; nothing is stored then."""
    check_spec(session, spec)
    flow_id = get_flow(session, spec.flow).id if spec.flow is not None else None
    pipeline = PipelineRow(
        name=spec.name,
        task=spec.task,
        dataset=spec.dataset,
        flow_id=flow_id,
        model=_model_spec(spec),
        trained_images=0,
        created_by=created_by,
        created_at=db_time(None),
    )
    session.add(pipeline)
    session.flush()
    for parameter in PARAMETERS:
        session.add(
            PipelineParamRow(
                pipeline_id=pipeline.id,
                name=parameter.name,
                value=parameter.text(parameter.default),
                updated_by=created_by,
                updated_at=pipeline.created_at,
            )
        )
    session.flush()
    return pipeline


def check_spec(session: Session, spec: PipelineSpec) -> None:
    """Refuse a spec `create_pipeline` would refuse, before anything is made for it (a review
    flow made first must not be left behind): its name, task, dataset and flow."""
    if problem := name_problem("pipeline", spec.name):
        raise InvalidName(problem)
    if spec.task not in TASKS:
        raise InputError(
            f"pipeline task {spec.task!r} is not one truthloop runs: use {' or '.join(TASKS)}"
        )
    if session.scalar(select(PipelineRow.id).where(PipelineRow.name == spec.name)):
        raise AlreadyExists(
            f"a pipeline named {spec.name!r} already exists (see `truthloop pipeline list`)"
        )
    get_dataset(session, spec.dataset)
    if spec.flow is not None:
        get_flow(session, spec.flow)


def _model_spec(spec: PipelineSpec) -> dict[str, Any] | None:
    """How the first version's model is made again in a worker: its backend and
    hyper-parameters. InputError for a model of another task."""
    if spec.model is None:
        return None
    if spec.model.task.value != spec.task:
        raise InputError(
            f"the model given does {spec.model.task.value}; pipeline {spec.name!r} does {spec.task}"
        )
    return {"backend": backend_kind(spec.model), "params": params_json(spec.model)}


def get_pipeline(session: Session, name: str) -> PipelineRow:
    """A pipeline by name; NotFound names the pipelines that exist."""
    pipeline = session.scalar(select(PipelineRow).where(PipelineRow.name == name))
    if pipeline is None:
        known = session.scalars(select(PipelineRow.name).order_by(PipelineRow.name).limit(20))
        raise NotFound(
            f"no pipeline named {name!r} (pipelines: {', '.join(known) or 'none'};"
            " create one with `truthloop pipeline create`)"
        )
    return pipeline


def list_pipelines(session: Session) -> list[PipelineRow]:
    """Every pipeline, by name."""
    return list(session.scalars(select(PipelineRow).order_by(PipelineRow.name)))


def set_deployed(session: Session, name: str, version: str, trained_images: int) -> PipelineRow:
    """Record `version` (a version of the pipeline's own model project) as the one the
    pipeline serves, trained on `trained_images` labeled images. NotFound for an unknown
    version, InputError for another project's version or a count below zero."""
    pipeline = get_pipeline(session, name)
    found = find_version(session, version)
    if found.project != pipeline.name:
        raise InputError(
            f"model version {version!r} belongs to project {found.project!r}: pipeline"
            f" {name!r} deploys versions of its own project only ({name}.v1, {name}.v2...)"
        )
    if found.task.value != pipeline.task:
        raise InputError(
            f"model version {version!r} does {found.task.value}, pipeline {name!r} does"
            f" {pipeline.task}"
        )
    if isinstance(trained_images, bool) or not isinstance(trained_images, int):
        raise InputError(f"trained images must be a whole number, not {trained_images!r}")
    if trained_images < 0:
        raise InputError(f"trained images must be 0 or more, not {trained_images}")
    pipeline.deployed_version = found.name
    pipeline.trained_images = trained_images
    session.flush()
    return pipeline
