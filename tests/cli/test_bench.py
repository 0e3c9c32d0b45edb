"""`truthloop bench loop`, `job status --iterations` and `truthloop demo`, on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from truthloop.cli.main import app
from truthloop.datasets.importing import import_dataset
from truthloop.sim.logos import generate_logos
from truthloop.storage.project import Project

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A project with 40 synthetic logo images (one logo each, 64 pixels) as dataset `logos`."""
    with Project.init(tmp_path / "home") as project:
        made = generate_logos(tmp_path / "logos", images=40, mode="classification", size=64)
        import_dataset(project, "logos", made.manifest, fmt="groundtruth")
    return tmp_path / "home"


def _run(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def test_labeling_by_hand_costs_what_manual_labeling_costs(home: Path) -> None:
    result = _run(
        home, "bench", "loop", "--dataset", "logos", "--task", "classification", "--job", "hand",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["machine_labeled_share"] == 0.0
    assert data["machine_label_accuracy"] is None
    assert data["human_seconds"] == pytest.approx(data["manual_human_seconds"])
    assert data["cost"] == pytest.approx(data["manual_cost"]) == pytest.approx(40 * 0.08)
    assert data["iterations"] == 0
    assert data["human_label_accuracy"] >= 0.9  # the simulated workers err 2 % of the time


def test_auto_labeling_runs_iterations_and_job_status_prints_them(home: Path) -> None:
    result = _run(
        home, "bench", "loop", "--dataset", "logos", "--task", "classification", "--auto-label",
        "--batch-size", "15", "--validation-size", "10", "--train-passes", "1", "--job", "auto",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("machine_labeled_share", "machine_label_accuracy", "human_seconds",
                "manual_human_seconds", "cost", "manual_cost", "iterations"):
        assert key in data
    assert data["iterations"] >= 1
    assert data["items"] == 40
    # too few validation items for a 95 % bound: every label is a person's, made faster only
    # where the model's suggestion (shown from the second batch on) was right
    assert data["machine_labeled_share"] == 0.0
    assert data["human_seconds"] <= data["manual_human_seconds"]

    status = _run(home, "job", "status", "auto", "--iterations", "--json")
    rows = json.loads(status.output)["iterations"]
    assert [r["number"] for r in rows] == list(range(1, data["iterations"] + 1))
    assert rows[0]["human_labeled"] == 25 and rows[0]["validation_items"] == 10
    assert rows[0]["model_version"] and rows[-1]["remaining"] == 0
    table = runner.invoke(
        app, ["--home", str(home), "job", "status", "auto", "--iterations"], env={"COLUMNS": "80"}
    )
    assert "iterations" in table.output and "thresh." in table.output
    assert "…" not in table.output  # every column whole in an 80-column terminal


def test_unknown_dataset_and_bad_target_are_messages(home: Path) -> None:
    missing = _run(home, "bench", "loop", "--dataset", "nope", "--task", "classification")
    assert missing.exit_code != 0 and "nope" in missing.output
    bad = _run(
        home, "bench", "loop", "--dataset", "logos", "--task", "classification", "--auto-label",
        "--target-accuracy", "1.5",
    )
    assert bad.exit_code != 0 and "target accuracy" in bad.output


def test_demo_runs_a_whole_job_and_says_how_to_browse_it(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["demo", "--home", str(tmp_path / "demo"), "--images", "30", "--train-passes", "20",
         "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["dataset"]["items"] == 30
    job = data["job"]
    assert job["items"] == 30 and job["iterations"] >= 1
    assert job["human_labeled"] + job["machine_labeled"] == 30
    # The dataset's counts show the job's labels apart from the imported truth.
    labels = {a["attribute"]: a for a in data["dataset"]["attributes"]}
    assert labels["logos"]["images"] == labels[job["job"]]["images"] == 30
    assert labels[job["job"]]["sources"].get("model", 0) == job["machine_labeled"]
    # Each image once, by its final label, in the dataset's counts as in the job's.
    assert labels[job["job"]]["sources"].get("human", 0) == job["human_labeled"]
    portal = data["portal"]
    assert portal["username"] == "demo-manager" and len(portal["password"]) >= 12
    assert portal["url"].endswith(f"/jobs/{job['job_id']}")
    with Project.open(tmp_path / "demo") as project, project.session() as session:
        from truthloop.people import authenticate

        assert authenticate(session, "demo-manager", portal["password"]) is not None
