"""A pipeline's run history on SQLite and PostgreSQL, as a state machine's execution history:
runs and their steps with state, start, end, input, output and error; a failing step fails its
run; listing by kind and status, newest first, page by page."""

from __future__ import annotations

import pytest

from truthloop.core.types import LabelSet
from truthloop.errors import InputError, NotFound
from truthloop.pipeline import (
    PipelineSpec,
    create_pipeline,
    finish_run,
    get_pipeline,
    get_run,
    list_runs,
    start_run,
    step,
)
from truthloop.storage.datasets import create_dataset
from truthloop.storage.project import Project


@pytest.fixture
def logos(project: Project) -> Project:
    with project.session() as session:
        create_dataset(session, "logos", LabelSet.from_names(["a", "b"]))
        create_pipeline(session, PipelineSpec("logos", "classification", "logos"))
    return project


def pipeline_id(project: Project) -> int:
    with project.session() as session:
        return get_pipeline(session, "logos").id


def test_a_run_with_two_steps_succeeds(logos: Project) -> None:
    with logos.session() as session:
        run = start_run(session, pipeline_id(logos), "training-check", {"on_demand": True})
        assert (run.status, run.ended_at) == ("running", None)
        with step(session, run, "count-images", {"dataset": "logos"}) as counted:
            counted.output = {"labeled": 12, "trained": 0}
        with step(session, run, "decide", {"minimum": 10}) as decided:
            decided.output = {"go": True}
        finish_run(session, run, "succeeded", {"decision": "train"})
        run_id = run.id
    with logos.session() as session:
        run, steps = get_run(session, run_id)
        assert (run.status, run.output, run.error) == ("succeeded", {"decision": "train"}, None)
        assert run.input == {"on_demand": True}
        assert run.ended_at is not None and run.ended_at >= run.started_at
        assert [(s.name, s.status, s.input, s.output) for s in steps] == [
            ("count-images", "succeeded", {"dataset": "logos"}, {"labeled": 12, "trained": 0}),
            ("decide", "succeeded", {"minimum": 10}, {"go": True}),
        ]
        assert all(s.ended_at is not None and s.error is None for s in steps)


def test_a_failing_step_records_the_error_and_fails_the_run(logos: Project) -> None:
    with logos.session() as session:
        run = start_run(session, pipeline_id(logos), "intake", {"images": 3})
        with step(session, run, "list-intake", {}) as listed:
            listed.output = {"new": 3}
        detect = step(session, run, "detect", {"version": "logos.v1"})
        with pytest.raises(OSError, match="disk on fire"), detect:
            raise OSError("disk on fire")
        refused = "is failed: steps are added to a running run"
        with pytest.raises(InputError, match=refused), step(session, run, "route", {}):
            pass
        run_id = run.id
    with logos.session() as session:
        run, steps = get_run(session, run_id)
        assert (run.status, run.error) == ("failed", "detect: disk on fire")
        assert run.ended_at is not None
        assert [(s.name, s.status, s.error) for s in steps] == [
            ("list-intake", "succeeded", None),
            ("detect", "failed", "disk on fire"),
        ]


def test_a_caller_that_catches_a_failed_step_ends_the_run_itself(logos: Project) -> None:
    with logos.session() as session:
        run = start_run(session, pipeline_id(logos), "sampling", {})
        with pytest.raises(ValueError), step(session, run, "pick", {}):
            raise ValueError("nothing to sample")
        finish_run(session, run, "skipped", {"reason": "no detections"})
        run_id = run.id
    with logos.session() as session:
        run, steps = get_run(session, run_id)
        assert (run.status, run.error, run.output) == ("skipped", None, {"reason": "no detections"})
        assert steps[0].status == "failed"


def test_a_run_never_ends_running_and_its_open_steps_end_with_it(logos: Project) -> None:
    with logos.session() as session:
        run = start_run(session, pipeline_id(logos), "intake", {})
        with pytest.raises(InputError, match="succeeded, failed, skipped"):
            finish_run(session, run, "running")
        with pytest.raises(InputError, match="unknown run kind 'train'"):
            start_run(session, run.pipeline_id, "train", {})
        steps = step(session, run, "detect", {})
        steps.__enter__()  # a step the caller never closed
        finish_run(session, run, "failed", error="stopped by hand")
        run_id = run.id
    with logos.session() as session:
        run, (left,) = get_run(session, run_id)
        assert (run.status, left.status) == ("failed", "failed")
        assert left.error == "the run ended failed while this step was running"
        with pytest.raises(NotFound, match="no pipeline run 999"):
            get_run(session, 999)


def test_runs_are_listed_by_kind_and_status_and_paged(logos: Project) -> None:
    owner = pipeline_id(logos)
    with logos.session() as session:
        made = []
        for n in range(5):
            run = start_run(session, owner, "intake" if n % 2 else "training-check", {"n": n})
            finish_run(session, run, "succeeded" if n < 3 else "skipped")
            made.append(run.id)
        start_run(session, owner, "intake", {"n": 5})
    with logos.session() as session:
        pipeline = get_pipeline(session, "logos")
        newest = [r.input["n"] for r in list_runs(session, pipeline)]
        assert newest == [5, 4, 3, 2, 1, 0]
        assert [r.input["n"] for r in list_runs(session, pipeline, kind="intake")] == [5, 3, 1]
        assert [r.input["n"] for r in list_runs(session, pipeline, status="skipped")] == [4, 3]
        assert [r.input["n"] for r in list_runs(session, pipeline, status="running")] == [5]
        both = list_runs(session, pipeline, kind="training-check", status="succeeded")
        assert [r.input["n"] for r in both] == [2, 0]
        page = list_runs(session, pipeline, limit=2)
        assert [r.input["n"] for r in page] == [5, 4]
        page = list_runs(session, pipeline, limit=2, before_id=page[-1].id)
        assert [r.input["n"] for r in page] == [3, 2]
        page = list_runs(session, pipeline, limit=2, before_id=page[-1].id)
        assert [r.input["n"] for r in page] == [1, 0]
        assert list_runs(session, pipeline, before_id=page[-1].id) == []
        with pytest.raises(InputError, match="limit must be from 1 to 500"):
            list_runs(session, pipeline, limit=0)
        with pytest.raises(InputError, match="run status 'done'"):
            list_runs(session, pipeline, status="done")
