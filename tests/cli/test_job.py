from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.labeling.conftest import ITEMS, seed
from truthloop.cli.main import app
from truthloop.core.types import Classification
from truthloop.labeling import get_job as labeling_job
from truthloop.labeling import next_task, submit
from truthloop.labeling.autolabel import autolabel_terms
from truthloop.people import get_user
from truthloop.storage.project import Project

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    with Project.init(tmp_path / "home") as project:
        seed(project)
    return tmp_path / "home"


def _run(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), "job", *args], catch_exceptions=False)


def test_create_status_list_export_cancel_with_json(home: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("Pick the **animal**.")
    created = _run(home, "create", "pets-job", "--dataset", "pets", "--type", "classification",
                   "--team", "crew", "--workers-per-item", "2", "--price", "0.036",
                   "--instructions", str(notes), "--split", "train", "--json")
    assert created.exit_code == 0, created.output
    info = json.loads(created.stdout)
    assert (info["items"], info["workers_per_item"], info["labels"]) == (3, 2, ["cat", "dog"])

    with Project.open(home) as project, project.session() as session:
        alice = get_user(session, "alice").id
    with Project.open(home) as project:
        task = next_task(project.db, info["id"], alice)
        assert task is not None and "<strong>animal</strong>" in task.instructions_html
        submit(project.db, task.task_id, alice, client_id="c", answer=Classification("dog"),
               seconds=3)

    status = json.loads(_run(home, "status", "pets-job", "--json").stdout)
    assert (status["total_items"], status["submitted"], status["cost"]) == (3, 1, 0.036)
    assert status["workers"][0]["username"] == "alice"

    listed = json.loads(_run(home, "list", "--json").stdout)
    assert [(j["name"], j["done"], j["total_items"]) for j in listed] == [("pets-job", 0, 3)]

    dest = tmp_path / "out.manifest"
    exported = json.loads(_run(home, "export", "pets-job", str(dest), "--json").stdout)
    assert exported["lines"] == 3 and len(dest.read_text().splitlines()) == 3

    cancelled = json.loads(_run(home, "cancel", "pets-job", "--json").stdout)
    assert cancelled == {"job": "pets-job", "status": "stopped"}


def test_human_output_names_the_job(home: Path) -> None:
    created = _run(home, "create", "boxes", "--dataset", "pets", "--type", "bounding-box",
                   "--team", "crew", "--labels", "dog,cat")
    assert created.exit_code == 0 and f"{ITEMS} images" in created.stdout
    assert "boxes" in _run(home, "list").stdout
    shown = _run(home, "status", "boxes").stdout
    assert "in-progress" in shown and f"0 / {ITEMS}" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "label-verification"], "needs proposals"),
        (["--type", "classification", "--instructions", "/nonexistent/notes.md"],
         "cannot read the instructions file"),
        (["--type", "classification", "--workers-per-item", "0"], "workers per item"),
        (["--type", "box-adjustment", "--proposals", "species"], "needs box proposals"),
    ],
)
def test_bad_jobs_are_refused_with_a_message(home: Path, args: list[str], message: str) -> None:
    result = _run(home, "create", "bad", "--dataset", "pets", "--team", "crew", *args, "--json")
    assert result.exit_code == 1
    assert message in json.loads(result.stdout)["message"]
    assert json.loads(_run(home, "list", "--json").stdout) == []


def test_unknown_jobs_are_named(home: Path) -> None:
    result = _run(home, "status", "nope")
    assert result.exit_code == 1 and "no job 'nope'" in result.stderr


def test_create_with_automated_labeling(home: Path) -> None:
    created = _run(home, "create", "auto", "--dataset", "pets", "--type", "classification",
                   "--team", "crew", "--auto-label", "--batch-size", "2", "--validation-size",
                   "2", "--validation-max", "3", "--target-accuracy", "0.9", "--backbone",
                   "scratch", "--json")
    assert created.exit_code == 0, created.output
    info = json.loads(created.stdout)
    assert (info["auto_label"], info["items"]) == (True, ITEMS)
    assert info["proposals"] == "auto-proposals"  # people start from the model's labels
    status = json.loads(_run(home, "status", "auto", "--json", "--iterations").stdout)
    assert status["waiting"] == 4  # the first batch: two to train on, two held out
    assert status["iterations"] == []
    with Project.open(home) as project, project.session() as session:
        terms = autolabel_terms(session, labeling_job(session, "auto"))
        assert terms is not None
        assert (terms.batch_size, terms.validation_size, terms.validation_max) == (2, 2, 3)
        assert terms.target_accuracy == 0.9
        assert terms.backend_params == {"backbone": "scratch"}
    unknown = _run(home, "create", "auto2", "--dataset", "pets", "--type", "classification",
                   "--team", "crew", "--auto-label", "--backbone", "resnet", "--json")
    assert unknown.exit_code == 1
    assert "unknown backbone 'resnet'" in json.loads(unknown.stdout)["message"]


def test_pre_annotation_can_be_turned_off(home: Path) -> None:
    created = _run(home, "create", "auto", "--dataset", "pets", "--type", "classification",
                   "--team", "crew", "--auto-label", "--no-pre-annotate", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["proposals"] is None


@pytest.mark.parametrize(
    "option",
    [
        ["--initial-model", "pets:1"],
        ["--batch-size", "5"],
        ["--validation-max", "9"],
        ["--backbone", "scratch"],
    ],
)
def test_automated_labeling_terms_need_auto_label(home: Path, option: list[str]) -> None:
    result = _run(home, "create", "auto", "--dataset", "pets", "--type", "classification",
                  "--team", "crew", *option, "--json")
    assert result.exit_code == 1
    assert "add --auto-label" in json.loads(result.stdout)["message"]
    assert json.loads(_run(home, "list", "--json").stdout) == []
