"""A pipeline's parameter store on SQLite and PostgreSQL: defaults, typed values and the
seed's text forms, refusals that name the range and store nothing, the change history with
who, old and new, and each change among the pipeline's runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from truthloop.core.pipeline_params import defaults
from truthloop.core.types import LabelSet
from truthloop.errors import InputError
from truthloop.people import add_user
from truthloop.pipeline import (
    PipelineSpec,
    create_pipeline,
    get_param,
    get_params,
    get_pipeline,
    get_run,
    list_runs,
    param_history,
    set_param,
)
from truthloop.storage.datasets import create_dataset
from truthloop.storage.project import Project
from truthloop.storage.tables import PipelineParamChangeRow, PipelineParamRow, PipelineRunRow

F1 = "Minimum-F1-Score"
WHEN = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
def logos(project: Project) -> Project:
    with project.session() as session:
        create_dataset(session, "logos", LabelSet.from_names(["a", "b"]))
        create_pipeline(session, PipelineSpec("logos", "classification", "logos"))
    return project


def counts(project: Project) -> tuple[int, int]:
    with project.session() as session:
        changes = session.scalar(select(func.count()).select_from(PipelineParamChangeRow))
        runs = session.scalar(select(func.count()).select_from(PipelineRunRow))
        return changes or 0, runs or 0


def test_a_new_pipeline_holds_the_defaults(logos: Project) -> None:
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        assert get_params(session, pipeline) == defaults()
        assert get_param(session, pipeline, "Human-Sampling-Interval") == 1000
        assert get_param(session, pipeline, "Enable-A2I-Workflow") is True
        assert param_history(session, pipeline) == []


def test_a_parameter_missing_from_the_store_reads_as_its_default(logos: Project) -> None:
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        session.delete(session.get_one(PipelineParamRow, (pipeline.id, F1)))
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        assert get_param(session, pipeline, F1) == 0.8
        change = set_param(session, pipeline, F1, "0.9")
        assert (change.old, change.new, change.changed) == (None, "0.9", True)
        assert "from its default to 0.9" in change.message


def test_values_are_set_from_text_and_typed_with_who_and_when(logos: Project) -> None:
    with logos.session() as session:
        alice = add_user(session, "alice", password=None).id
        pipeline = get_pipeline(session, "logos")
        first = set_param(session, pipeline, F1, " 0.9 ", changed_by=alice, now=WHEN)
        set_param(session, pipeline, "Enable-A2I-Workflow", "FALSE")
        set_param(session, pipeline, "Human-Sampling-Interval", 50)
        set_param(session, pipeline, F1, 0.95)
    assert (first.old, first.new, first.value, first.changed) == ("0.8", "0.9", 0.9, True)
    assert first.message == "Minimum-F1-Score changed from 0.8 to 0.9"
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        params = get_params(session, pipeline)
        assert (params[F1], params["Enable-A2I-Workflow"]) == (0.95, False)
        assert params["Human-Sampling-Interval"] == 50
        stored = session.get_one(PipelineParamRow, (pipeline.id, "Enable-A2I-Workflow"))
        assert stored.value == "false"
        history = param_history(session, pipeline, name=F1)
        assert [(c.old, c.new) for c in history] == [("0.9", "0.95"), ("0.8", "0.9")]
        oldest = history[-1]
        assert (oldest.changed_by, oldest.changed_at) == (alice, datetime(2026, 12, 4, 9, 30))
        assert len(param_history(session, pipeline)) == 4
        assert len(param_history(session, pipeline, limit=1)) == 1


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        (F1, "1.5", r"Minimum-F1-Score must be a number from 0 to 1, not '1.5'"),
        (F1, True, "Minimum-F1-Score must be a number from 0 to 1"),
        ("Minimum-Inference-Units", 17, "a whole number from 1 to 16 workers, not 17"),
        ("Enable-A2I-Workflow", "yes", "true or false"),
        ("Minimum-F1-Scor", 0.5, "did you mean Minimum-F1-Score"),
    ],
)
def test_a_bad_value_is_refused_naming_the_range_and_nothing_is_stored(
    logos: Project, name: str, value: object, words: str
) -> None:
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        with pytest.raises(InputError, match=words):
            set_param(session, pipeline, name, value)
    with logos.session() as session:
        assert get_params(session, get_pipeline(session, "logos")) == defaults()
    assert counts(logos) == (0, 0)


def test_setting_the_value_in_force_records_nothing(logos: Project) -> None:
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        same = set_param(session, pipeline, "Automatic-Training-Poll-Frequency", "720")
        also = set_param(session, pipeline, F1, 0.8)
    assert (same.changed, same.change_id, same.run_id) == (False, None, None)
    assert same.message == "Automatic-Training-Poll-Frequency is 720 already; nothing changed"
    assert not also.changed
    assert counts(logos) == (0, 0)


def test_a_change_shows_as_a_parameter_change_run(logos: Project) -> None:
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        change = set_param(session, pipeline, "Minimum-Untrained-Images", "25", now=WHEN)
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        runs = list_runs(session, pipeline, kind="parameter-change")
        assert [r.id for r in runs] == [change.run_id]
        run, steps = get_run(session, runs[0].id)
        assert (run.status, run.error, run.output) == (
            "succeeded",
            None,
            {"change_id": change.change_id},
        )
        assert run.input == {
            "parameter": "Minimum-Untrained-Images",
            "old": "10",
            "new": "25",
            "changed_by": None,
        }
        assert run.started_at == run.ended_at == datetime(2026, 12, 4, 9, 30)
        assert [(s.name, s.status) for s in steps] == [("store-parameter", "succeeded")]
