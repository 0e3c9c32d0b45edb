"""`truthloop feedback ...` end to end on a FakeModel: start, collect (too early, then done),
report and list, in text and in JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.labeling.feedback_setup import MODEL, FeedbackSetup, prepare
from truthloop.cli.main import app
from truthloop.storage.project import Project

runner = CliRunner()


def _run(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def _json(home: Path, *args: str) -> Any:
    result = _run(home, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def setup(tmp_path: Path) -> FeedbackSetup:
    with Project.init(tmp_path / "home") as project:
        return prepare(project)


def test_start_collect_report_and_list(setup: FeedbackSetup) -> None:
    home = setup.project.home
    started = _run(
        home, "feedback", "start", "--model", MODEL, "--dataset", "larger", "--team", "crew",
        "--mode", "adjust", "--batch-size", "4",
    )
    assert started.exit_code == 0, started.output
    assert "feedback-1-batch-002" in started.stdout
    assert "truthloop feedback collect feedback-1" in started.stdout

    early = _run(home, "feedback", "collect", "feedback-1")
    assert early.exit_code == 1
    assert "6 tasks not answered" in early.output and "--partial" in early.output

    workforce = setup.workforce()
    for job in ("feedback-1-batch-001", "feedback-1-batch-002"):
        workforce.work(job)
    collected = _json(home, "feedback", "collect", "feedback-1")
    assert collected["dataset"] == "feedback-1-verified" and collected["images"] == 6
    assert set(collected["counts"]) == {"accepted", "adjusted", "rejected", "added"}

    report = _json(home, "feedback", "report", "feedback-1", "--test-dataset", "test")
    assert (report["v1"], report["v2"]) == (MODEL, "shapes.v2")
    assert report["human_seconds"] < report["scratch_human_seconds"]
    shown = _run(home, "feedback", "report", "feedback-1", "--test-dataset", "test")
    assert shown.exit_code == 0 and "map50" in shown.stdout and "from scratch" in shown.stdout

    listed = _json(home, "feedback", "list")
    assert [(r["name"], r["status"], r["done"]) for r in listed] == [
        ("feedback-1", "collected", 6)
    ]


def test_bad_input_ends_with_a_message(setup: FeedbackSetup) -> None:
    home = setup.project.home
    base = ["feedback", "start", "--model", MODEL, "--team", "crew"]
    missing = _run(home, *base, "--dataset", "nowhere", "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["error"] == "NotFound"
    stopped = _run(home, "model", "stop", MODEL)
    assert stopped.exit_code == 0, stopped.output
    refused = _run(home, *base, "--dataset", "larger", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout) == {
        "error": "ModelNotRunning",
        "message": f"model {MODEL} is STOPPED: start it first (truthloop model start {MODEL})",
    }
    unknown = _run(home, "feedback", "collect", "feedback-9")
    assert unknown.exit_code == 1 and "no feedback run 'feedback-9'" in unknown.output
