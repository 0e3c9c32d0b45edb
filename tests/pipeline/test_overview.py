"""The overview a pipeline's page and API show: terms, versions with their F1, intake counts,
the review backlog, the audits of the deployed version, labeled against trained images, and
the recent runs; on SQLite and PostgreSQL with the FakeModel (instant)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.pipeline.conftest import SEEN, UNSEEN, Line, incoming
from truthloop.errors import NotFound
from truthloop.pipeline import get_pipeline, set_param
from truthloop.pipeline.accrual import Outcome
from truthloop.pipeline.intake import Incoming, submit
from truthloop.pipeline.overview import (
    RECENT_RUNS,
    pipeline_counters,
    pipeline_overview,
    run_json,
    step_json,
)
from truthloop.pipeline.runs import get_run
from truthloop.pipeline.training import check_training
from truthloop.storage.tables import PipelineAccrualRow, PipelineDetectionRow


def deploy_v1(line: Line) -> str:
    with line.project.session() as session:
        set_param(session, get_pipeline(session, "shapes"), "Minimum-F1-Score", 0.0)
    check = check_training(line.project, "shapes", on_demand=True)
    assert check.deployed, check
    return str(check.version)


def test_a_new_pipeline_shows_its_terms_and_nothing_counted(line: Line) -> None:
    seen = pipeline_overview(line.project, "shapes")
    assert (seen["name"], seen["task"], seen["dataset"]) == (
        "shapes",
        "classification",
        "shapes-train",
    )
    assert seen["flow"] == line.flow and seen["intake"] is None
    assert seen["deployed_version"] is None and seen["deployed_f1"] is None
    assert seen["versions"] == [] and seen["runs"] == []
    assert (seen["labeled_images"], seen["untrained_images"]) == (12, 12)
    counters = seen["counters"]
    assert counters["detections"] == {
        "total": 0,
        "by_source": {"upload": 0, "intake": 0},
        "reviewed": 0,
        "refused": 0,
        "sampled": 0,
    }
    assert counters["open_loops"] == 0
    assert counters["audit"] == {
        "version": None,
        "right": 0,
        "n": 0,
        "accuracy": None,
        "low": None,
        "high": None,
    }


def test_the_overview_counts_what_the_pipeline_did(line: Line) -> None:
    version = deploy_v1(line)
    given = [*incoming(SEEN, "seen")[:2], *incoming(UNSEEN, "new")[:2]]
    results = submit(line.project, "shapes", [*given, Incoming("broken.png", b"not an image")])
    unsure = sum(r.loop is not None for r in results)
    assert unsure >= 2  # the unseen images, at 30 %
    seen = pipeline_overview(line.project, "shapes")
    assert seen["deployed_version"] == version
    [listed] = seen["versions"]
    assert listed["name"] == version and listed["status"] == "RUNNING"
    assert listed["f1"] == seen["deployed_f1"] and listed["f1"] is not None
    # The version trained on the labeled images less those held out for its test.
    assert 0 < listed["trained_images"] < seen["trained_images"] == seen["labeled_images"]
    assert seen["untrained_images"] == seen["labeled_images"] - seen["trained_images"]
    detections = seen["counters"]["detections"]
    # A refused upload is answered, never logged: the log holds the four it detected.
    assert detections["total"] == 4 and detections["by_source"] == {"upload": 4, "intake": 0}
    assert detections["reviewed"] == unsure and detections["refused"] == 0
    assert seen["counters"]["open_loops"] == unsure
    # The runs, newest first: the intake, then the training check, then the parameter change.
    assert [r["kind"] for r in seen["runs"]] == ["intake", "training-check", "parameter-change"]


def test_the_audits_of_the_deployed_version_give_its_accuracy(line: Line) -> None:
    version = deploy_v1(line)
    submit(line.project, "shapes", incoming(SEEN, "seen")[:4])
    with line.project.session() as session:
        pipeline = get_pipeline(session, "shapes")
        logged = session.scalars(select(PipelineDetectionRow.id)).all()
        for n, (detection, outcome) in enumerate(
            zip(logged, [Outcome.AUDIT_RIGHT] * 3 + [Outcome.AUDIT_WRONG], strict=True)
        ):
            session.add(
                PipelineAccrualRow(
                    pipeline_id=pipeline.id,
                    loop_name=f"audit-{n}",
                    detection_id=detection,
                    kind="audit",
                    outcome=outcome,
                )
            )
        session.execute(
            PipelineDetectionRow.__table__.update().values(sampled=True)  # type: ignore[attr-defined]
        )
    counters = pipeline_counters(line.project, "shapes")
    audit = counters["audit"]
    assert (audit["version"], audit["right"], audit["n"]) == (version, 3, 4)
    assert audit["accuracy"] == pytest.approx(0.75)
    assert 0 < audit["low"] < 0.75 < audit["high"] <= 1
    assert counters["detections"]["sampled"] == 4


def test_only_the_recent_runs_are_listed(line: Line) -> None:
    with line.project.session() as session:
        pipeline = get_pipeline(session, "shapes")
        for n in range(RECENT_RUNS + 2):
            set_param(session, pipeline, "Minimum-Untrained-Images", 20 + n)
    runs = pipeline_overview(line.project, "shapes")["runs"]
    assert len(runs) == RECENT_RUNS
    assert runs[0]["input"]["new"] == str(20 + RECENT_RUNS + 1)
    assert runs[0]["id"] > runs[-1]["id"]


def test_a_run_and_its_steps_as_json(line: Line) -> None:
    with line.project.session() as session:
        change = set_param(session, get_pipeline(session, "shapes"), "Enable-A2I-Workflow", False)
        run, steps = get_run(session, int(change.run_id or 0))
        shown = run_json(run)
        [step] = [step_json(s) for s in steps]
    assert shown["kind"] == "parameter-change" and shown["status"] == "succeeded"
    assert shown["seconds"] is not None and shown["seconds"] >= 0
    assert shown["input"]["new"] == "false" and shown["error"] is None
    assert step["name"] == "store-parameter" and step["status"] == "succeeded"
    assert step["started_at"] is not None and step["output"] == {"change_id": change.change_id}


def test_an_unknown_pipeline_is_not_found(line: Line) -> None:
    with pytest.raises(NotFound, match="no pipeline named 'nope'"):
        pipeline_overview(line.project, "nope")
    with pytest.raises(NotFound, match="no pipeline named 'nope'"):
        pipeline_counters(line.project, "nope")
