"""`truthloop pipeline create --review-team|run|submit|intake|tick` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from truthloop.cli.main import app
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.people import add_member, add_team, add_user
from truthloop.pipeline import PipelineSpec, create_pipeline, get_pipeline, set_param
from truthloop.review import list_flows
from truthloop.storage.project import Project

runner = CliRunner()
UNSEEN = shapes(3, task="classification", size=32, seed=77)


def tl(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), "pipeline", *args], catch_exceptions=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Pipeline `shapes` on a FakeModel (made in Python: the command line trains the built-in
    model), its training dataset, and a review team."""
    with Project.init(tmp_path / "home") as project:
        store_shapes(project, "shapes-train", shapes(12, task="classification", size=32, seed=5))
        with project.session() as session:
            add_team(session, "reviewers")
            add_user(session, "alice", password=None)
            add_member(session, "reviewers", "alice")
            model = FakeModel(task=Task.CLASSIFICATION, guess_confidence=0.3)
            pipeline = create_pipeline(
                session, PipelineSpec("shapes", "classification", "shapes-train", model=model)
            )
            set_param(session, pipeline, "Minimum-F1-Score", 0.0)
    return tmp_path / "home"


def images(folder: Path) -> list[str]:
    folder.mkdir()
    paths = []
    for i, record in enumerate(UNSEEN.records):
        path = folder / f"{i}.png"
        UNSEEN.images[record.uri].save(path)
        paths.append(str(path))
    return paths


def test_create_makes_a_review_flow_for_the_team_and_watches_an_intake(home: Path) -> None:
    (home / "drop").mkdir()
    made = tl(
        home,
        "create",
        "logos",
        "--task",
        "classification",
        "--dataset",
        "shapes-train",
        "--review-team",
        "reviewers",
        "--intake",
        "drop",
        "--json",
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["flow"] == "logos-review"
    with Project.open(home) as project, project.session() as session:
        assert get_pipeline(session, "logos").intake_uri == str((home / "drop").resolve())
    both = tl(
        home,
        "create",
        "x",
        "--task",
        "classification",
        "--dataset",
        "shapes-train",
        "--review-team",
        "reviewers",
        "--flow",
        "logos-review",
    )
    assert both.exit_code == 1 and "not both" in both.output
    # A refusal (no such dataset) leaves no review flow behind: a retry would clash with it.
    wrong = tl(
        home,
        "create",
        "later",
        "--task",
        "classification",
        "--dataset",
        "nope",
        "--review-team",
        "reviewers",
    )
    assert wrong.exit_code == 1 and "nope" in wrong.output
    with Project.open(home) as project, project.session() as session:
        assert [f.name for f in list_flows(session)] == ["logos-review"]


def test_run_trains_and_deploys_then_submit_detects(home: Path, tmp_path: Path) -> None:
    ran = tl(home, "run", "shapes", "--json")
    assert ran.exit_code == 0, ran.output
    check = json.loads(ran.output)
    assert (check["status"], check["version"], check["deployed"]) == (
        "succeeded",
        "shapes.v1",
        True,
    )
    again = tl(home, "run", "shapes")
    assert again.exit_code == 0 and "skipped" in again.output and "0 new labeled" in again.output
    paths = images(tmp_path / "in")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"no image here")
    submitted = tl(
        home, "submit", "shapes", *paths, str(broken), str(tmp_path / "missing.png"), "--json"
    )
    assert submitted.exit_code == 1  # some were refused: the others still went through
    results = json.loads(submitted.stdout)
    assert [r["version"] for r in results[:3]] == ["shapes.v1"] * 3
    assert all(r["error"] is None for r in results[:3])
    assert results[3]["error"] and "broken.png" in results[3]["error"]
    assert results[4]["error"] and "missing.png" in results[4]["error"]
    table = tl(home, "submit", "shapes", paths[0])
    assert table.exit_code == 0 and "shapes.v1" in table.output


def test_intake_is_set_refused_outside_the_roots_and_turned_off(home: Path, tmp_path: Path) -> None:
    (home / "drop").mkdir()
    assert tl(home, "intake", "shapes", "drop").exit_code == 0
    outside = tl(home, "intake", "shapes", str(tmp_path))
    assert outside.exit_code == 1 and "intake location" in outside.output
    off = tl(home, "intake", "shapes", "--off", "--json")
    assert json.loads(off.output) == {"pipeline": "shapes", "intake": None}


def test_tick_detects_the_intake_and_checks_training(home: Path) -> None:
    drop = home / "drop"
    images(drop)
    assert tl(home, "intake", "shapes", "drop").exit_code == 0
    ticked = tl(home, "tick", "shapes", "--json")
    assert ticked.exit_code == 0, ticked.output
    done = json.loads(ticked.output)
    # The first tick: no model yet detects (every image goes to review, none here: no flow),
    # and the training schedule fires at once.
    assert done["detected"] == 3 and done["training_fired"] is True
    assert done["training"]["status"] == "succeeded"
    again = tl(home, "tick", "shapes")
    assert again.exit_code == 0 and "0 detected" in again.output
