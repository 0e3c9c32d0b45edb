"""Pipelines on SQLite and PostgreSQL: created with a dataset and a review flow, found by
name, listed, every refusal leaving nothing stored, and the deployed version recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from truthloop.core.pipeline_params import defaults
from truthloop.core.types import LabelSet
from truthloop.errors import AlreadyExists, InputError, InvalidName, NotFound
from truthloop.ml.backend import Task
from truthloop.ml.versions import add_version
from truthloop.people import add_team
from truthloop.pipeline import (
    PipelineSpec,
    create_pipeline,
    get_params,
    get_pipeline,
    list_pipelines,
    set_deployed,
)
from truthloop.review import FlowSpec, create_flow, create_task_ui
from truthloop.review.templates import EXAMPLE_TEMPLATE
from truthloop.storage.datasets import create_dataset
from truthloop.storage.project import Project
from truthloop.storage.tables import PipelineParamRow, PipelineRow


def make_dataset(project: Project, name: str = "logos") -> None:
    with project.session() as session:
        create_dataset(session, name, LabelSet.from_names(["a", "b"]))


def make_flow(project: Project, name: str = "logos-review") -> None:
    with project.session() as session:
        add_team(session, "reviewers")
        create_task_ui(session, "boxes-ui", EXAMPLE_TEMPLATE)
    spec = FlowSpec(name, "reviewers", "boxes-ui", "Check the logos", str(project.home / "out"))
    create_flow(project, spec)


def count(project: Project) -> int:
    with project.session() as session:
        return session.scalar(select(func.count()).select_from(PipelineRow)) or 0


def test_a_pipeline_is_created_found_and_listed(project: Project, tmp_path: Path) -> None:
    make_dataset(project)
    make_flow(project)
    with project.session() as session:
        row = create_pipeline(
            session, PipelineSpec("logos", "classification", "logos", "logos-review")
        )
        assert row.flow_id is not None
        create_pipeline(session, PipelineSpec("boxes", "detection", "logos"))
    with project.session() as session:
        found = get_pipeline(session, "logos")
        assert (found.task, found.dataset, found.deployed_version) == (
            "classification",
            "logos",
            None,
        )
        assert found.trained_images == 0
        assert get_pipeline(session, "boxes").flow_id is None
        assert [p.name for p in list_pipelines(session)] == ["boxes", "logos"]
        assert get_params(session, found) == defaults()
        stored = session.scalars(
            select(PipelineParamRow.name).where(PipelineParamRow.pipeline_id == found.id)
        ).all()
        assert set(stored) == set(defaults())


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        (PipelineSpec("../logos", "classification", "logos"), InvalidName, "not allowed"),
        (PipelineSpec("logos", "segmentation", "logos"), InputError, "classification or detection"),
        (PipelineSpec("logos", "classification", "nope"), NotFound, "datasets: logos"),
        (PipelineSpec("logos", "classification", "logos", "nope"), NotFound, "no flow definition"),
    ],
)
def test_a_bad_spec_is_refused_and_nothing_is_stored(
    project: Project, spec: PipelineSpec, error: type[Exception], words: str
) -> None:
    make_dataset(project)
    with pytest.raises(error, match=words), project.session() as session:
        create_pipeline(session, spec)
    assert count(project) == 0


def test_a_taken_name_is_refused(project: Project) -> None:
    make_dataset(project)
    with project.session() as session:
        create_pipeline(session, PipelineSpec("logos", "classification", "logos"))
    with pytest.raises(AlreadyExists, match="'logos' already exists"), project.session() as s:
        create_pipeline(s, PipelineSpec("logos", "detection", "logos"))
    assert count(project) == 1


def test_an_unknown_pipeline_names_those_there_are(project: Project) -> None:
    make_dataset(project)
    with project.session() as session:
        create_pipeline(session, PipelineSpec("logos", "classification", "logos"))
        with pytest.raises(NotFound, match=r"no pipeline named 'logs' \(pipelines: logos"):
            get_pipeline(session, "logs")


def test_the_deployed_version_must_be_one_of_the_project(project: Project) -> None:
    make_dataset(project)
    with project.session() as session:
        create_pipeline(session, PipelineSpec("logos", "classification", "logos"))
        for owner in ("logos", "other"):
            add_version(
                session,
                owner,
                parent=None,
                task=Task.CLASSIFICATION.value,
                backend="fake",
                params={},
                training_dataset="logos",
                labels=["a", "b"],
            )
    with project.session() as session:
        with pytest.raises(NotFound, match=r"no model version named 'logos\.v9'"):
            set_deployed(session, "logos", "logos.v9", 10)
        with pytest.raises(InputError, match="belongs to project 'other'"):
            set_deployed(session, "logos", "other.v1", 10)
        with pytest.raises(InputError, match="0 or more"):
            set_deployed(session, "logos", "logos.v1", -1)
        set_deployed(session, "logos", "logos.v1", 10)
    with project.session() as session:
        row = get_pipeline(session, "logos")
        assert (row.deployed_version, row.trained_images) == ("logos.v1", 10)
