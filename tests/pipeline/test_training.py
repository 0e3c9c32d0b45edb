"""The training check and the schedule: trains only when enough new images came in and none
is training, deploys only past the gate (telling subscribers either way), retries a run a
stopped worker left, and fires each schedule once per its frequency, a change applying from
the next tick."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from tests.pipeline.conftest import Line
from truthloop.ml.registry import list_versions
from truthloop.ml.training_runs import serving_state
from truthloop.ml.versions import VersionStatus
from truthloop.pipeline import get_pipeline, list_runs, set_param, start_run
from truthloop.pipeline.notify import list_notifications
from truthloop.pipeline.schedule import tick
from truthloop.pipeline.training import check_training, training_key, training_orphaned
from truthloop.storage import claims
from truthloop.storage.tables import PipelineRunRow

T0 = datetime(2026, 12, 4, 9, 0)


def set_(line: Line, name: str, value: object) -> None:
    with line.project.session() as session:
        set_param(session, get_pipeline(session, "shapes"), name, value)


def events(line: Line) -> list[str]:
    with line.project.session() as session:
        rows = list_notifications(session, get_pipeline(session, "shapes"), limit=100)
        return [n.event for n in reversed(rows)]


def test_a_version_below_the_gate_is_refused_and_people_are_told(line: Line) -> None:
    set_(line, "Minimum-F1-Score", 1.0)
    check = check_training(line.project, "shapes", on_demand=True)
    # The FakeModel guesses the held-out shapes by colour: short of a perfect score.
    assert check.f1 is not None and check.f1 < 1.0
    assert (check.status, check.deployed, check.version) == ("failed", False, "shapes.v1")
    assert check.reason.startswith("F1 below minimum: F1 ")
    assert line.deployed() is None
    [version] = list_versions(line.project, "shapes")
    assert version.status is VersionStatus.TRAINING_COMPLETED
    assert events(line)[-2:] == ["training-started", "gate-failed"]


def test_a_version_past_the_gate_is_deployed_and_people_are_told(line: Line) -> None:
    set_(line, "Minimum-F1-Score", 0.0)
    set_(line, "Minimum-Inference-Units", 3)
    check = check_training(line.project, "shapes", on_demand=True)
    assert check.deployed and line.deployed() == "shapes.v1"
    assert serving_state(line.project, "shapes.v1").inference_units == 3
    assert events(line)[-2:] == ["training-started", "version-deployed"]
    # Nothing new since: the next check says so and trains nothing.
    again = check_training(line.project, "shapes", on_demand=True)
    assert again.status == "skipped" and "0 new labeled images" in again.reason
    assert [v.name for v in list_versions(line.project, "shapes")] == ["shapes.v1"]


def test_automatic_training_off_stops_the_schedule_not_a_run_on_demand(line: Line) -> None:
    set_(line, "Enable-Automatic-Training", False)
    set_(line, "Minimum-F1-Score", 0.0)
    assert tick(line.project, "shapes", now=T0).training_fired is False
    assert check_training(line.project, "shapes", on_demand=True).deployed


def test_a_training_running_elsewhere_makes_the_check_skip(line: Line) -> None:
    with line.project.session() as session:
        pipeline_id = get_pipeline(session, "shapes").id
    assert claims.try_claim(
        line.project.db, training_key(pipeline_id), lease_s=60, holder="elsewhere:1"
    )
    check = check_training(line.project, "shapes", on_demand=True)
    assert check.status == "skipped" and "a training of this pipeline is running" in check.reason
    assert "elsewhere:1" in check.reason
    assert list_versions(line.project, "shapes") == []


def test_a_run_left_running_by_a_stopped_worker_is_retried(line: Line) -> None:
    set_(line, "Minimum-F1-Score", 0.0)
    with line.project.session() as session:
        pipeline = get_pipeline(session, "shapes")
        pipeline_id = pipeline.id
        left = start_run(session, pipeline.id, "training-check", {"on_demand": False}).id
    # Its worker was killed: no live process holds the claim.
    assert training_orphaned(line.project, pipeline_id)
    done = tick(line.project, "shapes", now=T0)
    assert done.training is not None and done.training.deployed
    with line.project.session() as session:
        run = session.get_one(PipelineRunRow, left)
        assert run.status == "failed" and "worker stopped" in str(run.error)
    assert not training_orphaned(line.project, pipeline_id)


def test_each_schedule_fires_once_per_its_frequency(line: Line) -> None:
    set_(line, "Minimum-F1-Score", 0.0)
    assert tick(line.project, "shapes", now=T0).training_fired
    assert not tick(line.project, "shapes", now=T0 + timedelta(minutes=719)).training_fired
    # Lowered to an hour, 30 minutes after a tick: the next comes 30 minutes later.
    set_(line, "Automatic-Training-Poll-Frequency", 60)
    assert not tick(line.project, "shapes", now=T0 + timedelta(minutes=30)).training_fired
    fired = tick(line.project, "shapes", now=T0 + timedelta(minutes=60))
    assert fired.training_fired and fired.training is not None
    assert fired.training.status == "skipped"  # nothing new to train on
    with line.project.session() as session:
        pipeline = get_pipeline(session, "shapes")
        assert pipeline.training_tick_at == T0 + timedelta(minutes=60)
        checks = list_runs(session, pipeline, kind="training-check")
        assert [r.status for r in reversed(checks)] == ["succeeded", "skipped"]
        kinds = session.scalars(select(PipelineRunRow.kind)).all()
    assert "parameter-change" in kinds


def test_a_sent_to_trainer_tick_hands_the_check_over(line: Line) -> None:
    handed: list[str] = []
    done = tick(line.project, "shapes", now=T0, train=handed.append)
    assert done.training_fired and done.training is None and handed == ["shapes"]
