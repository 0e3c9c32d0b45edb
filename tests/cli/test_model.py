"""`truthloop model ...` end to end: synthetic logos imported with `dataset import`, the
built-in models trained for one epoch (the JSON and the flow are under test here, not the
models' quality), then evaluated, compared, served, asked to detect and exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from truthloop.cli.main import app
from truthloop.ml import registry
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.review.templates import EXAMPLE_TEMPLATE
from truthloop.sim.logos import generate_logos
from truthloop.storage.project import Project

runner = CliRunner()


def _run(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def _json(home: Path, *args: str) -> Any:
    result = _run(home, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _import(home: Path, name: str, source: Path, **options: Any) -> Path:
    manifest = generate_logos(source, **options).manifest
    _json(home, "dataset", "import", name, str(manifest), "--format", "groundtruth")
    return source / "images"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert runner.invoke(app, ["init", str(home)]).exit_code == 0
    return home


def test_train_evaluate_compare_list_and_export_classifiers(home: Path, tmp_path: Path) -> None:
    logos = {"classes": 3, "mode": "classification", "size": 64}
    _import(home, "train", tmp_path / "train", images=15, seed=1, **logos)
    _import(home, "test", tmp_path / "test", images=6, seed=2, **logos)

    first = _json(
        home,
        "model",
        "train",
        "logos",
        "--dataset",
        "train",
        "--task",
        "classification",
        "--test-dataset",
        "test",
        "--epochs",
        "1",
    )
    assert (first["version"], first["status"], first["task"]) == (
        "logos.v1",
        "TRAINING_COMPLETED",
        "classification",
    )
    assert first["labels"] == ["acme", "globex", "initech"]
    assert first["training_report"]["test"] == "dataset test"
    assert first["metrics"]["testing_images"] == 6

    evaluation = _json(home, "model", "evaluate", "logos.v1", "--dataset", "test")
    assert {"f1", "precision", "recall", "per_label"} <= evaluation.keys()
    assert evaluation["testing_images"] == 6 and evaluation["confusion"]
    assert {m["label"] for m in evaluation["per_label"]} <= {"acme", "globex", "initech"}

    # Human output: the new version's name, trained from the first one.
    second = _run(
        home,
        "model",
        "train",
        "logos",
        "--dataset",
        "train",
        "--task",
        "classification",
        "--from",
        "logos.v1",
        "--epochs",
        "1",
    )
    assert second.exit_code == 0, second.output
    assert "logos.v2" in second.stdout and "TRAINING_COMPLETED" in second.stdout

    compared = _json(home, "model", "compare", "logos.v1", "logos.v2", "--dataset", "test")
    assert [v["version"] for v in compared["versions"]] == ["logos.v1", "logos.v2"]
    assert [r["metric"] for r in compared["rows"]][:3] == ["f1", "precision", "recall"]
    table = _run(home, "model", "compare", "logos.v1", "logos.v2", "--dataset", "test")
    assert table.exit_code == 0 and "precision" in table.stdout and "logos.v2" in table.stdout

    listed = _json(home, "model", "list")
    assert [(v["version"], v["parent"]) for v in listed] == [
        ("logos.v1", None),
        ("logos.v2", "logos.v1"),
    ]
    assert _json(home, "model", "show", "logos.v2")["training_dataset"] == "train"
    assert "logos.v2" in _run(home, "model", "list").stdout

    dest = tmp_path / "logos.onnx"
    exported = _json(home, "model", "export", "logos.v2", "--format", "onnx", "--dest", str(dest))
    assert exported == {"version": "logos.v2", "format": "onnx", "dest": str(dest)}
    assert dest.stat().st_size > 10_000


def test_serve_and_detect_with_a_detector(home: Path, tmp_path: Path) -> None:
    logos = {"classes": 2, "mode": "detection", "size": 96}
    images = _import(home, "boxes", tmp_path / "boxes", images=12, seed=1, **logos)
    _import(home, "boxes-test", tmp_path / "boxes-test", images=3, seed=2, **logos)
    # FakeModel (it answers its training images with their own boxes) stands in for the
    # detector: what is under test is the commands.
    with Project.open(home) as project:
        registry.train_version(
            project,
            "fake",
            dataset="boxes",
            task="detection",
            test_dataset="boxes-test",
            model=FakeModel(task=Task.DETECTION),
        )
    picture = str(images / "000001.jpg")
    refused = _run(home, "model", "detect", "fake.v1", picture)
    assert refused.exit_code == 1
    message = " ".join(refused.output.split())  # rich wraps long lines
    assert "not started; start it with `truthloop model start fake.v1`" in message

    assert _json(home, "model", "start", "fake.v1")["status"] == "RUNNING"
    answers = _json(home, "model", "detect", "fake.v1", picture, "--min-confidence", "0")
    assert [a["image"] for a in answers] == [picture]
    labels = answers[0]["CustomLabels"]
    assert labels and all(set(label) == {"Name", "Confidence", "Geometry"} for label in labels)
    few = _json(
        home, "model", "detect", "fake.v1", picture, "--min-confidence", "0", "--max-results", "1"
    )
    assert few[0]["CustomLabels"] == labels[:1]
    shown = _run(home, "model", "detect", "fake.v1", picture, "--min-confidence", "0")
    assert shown.exit_code == 0 and f"{labels[0]['Name']}  95.0%  left" in shown.stdout

    # A review flow attached to the version: each detect call goes to review (no conditions).
    template = tmp_path / "review.html"
    template.write_text(EXAMPLE_TEMPLATE)
    assert _run(home, "team", "add", "reviewers").exit_code == 0
    assert _run(home, "review", "ui", "create", "boxes-ui", str(template)).exit_code == 0
    flow = ("--team", "reviewers", "--ui", "boxes-ui", "--title", "Check", "--output", "a2i")
    assert (
        _run(home, "review", "flow", "create", "audit", *flow, "--model", "fake.v1").exit_code == 0
    )
    reviewed = _run(home, "model", "detect", "fake.v1", picture)
    assert reviewed.exit_code == 0 and "sent to review: human loop audit-" in reviewed.stdout
    [answer] = _json(home, "model", "detect", "fake.v1", picture)
    assert answer["HumanLoopActivationOutput"]["FlowDefinitionName"] == "audit"
    assert _run(home, "review", "flow", "detach", "audit").exit_code == 0

    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("hello")
    bad = _run(home, "model", "detect", "fake.v1", str(not_an_image))
    assert bad.exit_code == 1 and str(not_an_image) in "".join(bad.output.split())
    too_sure = _run(home, "model", "detect", "fake.v1", picture, "--min-confidence", "101")
    assert too_sure.exit_code == 2

    assert _json(home, "model", "stop", "fake.v1")["status"] == "STOPPED"
    stopped = _json_error(home, "model", "detect", "fake.v1", picture)
    assert stopped["error"] == "ModelNotRunning" and "is stopped" in stopped["message"]
    evaluation = _json(home, "model", "evaluate", "fake.v1")
    assert {"f1", "precision", "recall", "per_label", "map50", "map"} <= evaluation.keys()
    no_net = _json_error(home, "model", "export", "fake.v1", "--dest", str(tmp_path / "f.onnx"))
    assert "no network to export" in no_net["message"]


def _json_error(home: Path, *args: str) -> Any:
    result = _run(home, *args, "--json")
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)


def test_training_refuses_bad_data_and_records_nothing(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "plain"
    generate_logos(source, images=6, seed=3, mode="classification", size=64)
    unlabeled = source / "unlabeled.manifest"
    unlabeled.write_text(
        "".join(
            json.dumps({"source-ref": f"images/{p.name}"}) + "\n"
            for p in sorted((source / "images").iterdir())
        )
    )
    _json(home, "dataset", "import", "plain", str(unlabeled), "--format", "groundtruth")
    error = _json_error(
        home, "model", "train", "logos", "--dataset", "plain", "--task", "classification"
    )
    assert error["error"] == "TrainingError"
    assert "has no classification labels: none of its 6 images" in error["message"]
    human = _run(home, "model", "train", "logos", "--dataset", "nope", "--task", "detection")
    assert human.exit_code == 1 and "no dataset named 'nope'" in " ".join(human.output.split())
    assert _json(home, "model", "list") == []
    missing = _json_error(home, "model", "evaluate", "logos.v1")
    assert missing["error"] == "NotFound"
