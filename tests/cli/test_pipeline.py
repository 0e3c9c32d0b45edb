"""`truthloop pipeline ...`: pipelines, their parameters and their runs from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.cli.review_setup import make_flow
from truthloop.cli.main import app
from truthloop.core.pipeline_params import PARAMETERS, defaults
from truthloop.core.types import LabelSet
from truthloop.people import add_member, add_team, add_user
from truthloop.storage.datasets import create_dataset
from truthloop.storage.project import Project

runner = CliRunner()
F1 = "Minimum-F1-Score"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A project with dataset `logos` and a review team (alice)."""
    with Project.init(tmp_path / "home") as project, project.session() as session:
        create_dataset(session, "logos", LabelSet.from_names(["a", "b"]))
        add_team(session, "reviewers")
        add_user(session, "alice", password=None)
        add_member(session, "reviewers", "alice")
    return tmp_path / "home"


@pytest.fixture
def flow(home: Path, tmp_path: Path) -> str:
    """Task UI `boxes-ui` and flow `logos-review`, made as `truthloop review` makes them."""
    return make_flow(home, tmp_path, "logos-review", "Check the logos")

@pytest.fixture
def logos(home: Path) -> str:
    """Pipeline `logos`, classification on dataset `logos`, no review."""
    created = _run(home, "create", "logos", "--task", "classification", "--dataset", "logos")
    assert created.exit_code == 0, created.output
    return "logos"


def _run(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), "pipeline", *args], catch_exceptions=False)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _said(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


@pytest.mark.parametrize(
    "group",
    [[], ["create"], ["show"], ["param"], ["param", "set"], ["param", "history"], ["runs"],
     ["run-show"]],
)  # fmt: skip
def test_help_works_for_each_group(home: Path, group: list[str]) -> None:
    result = _run(home, *group, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.stdout


def test_a_pipeline_is_created_listed_and_shown(home: Path, flow: str) -> None:
    created = _json(
        _run(
            home, "create", "logos", "--task", "detection", "--dataset", "logos",
            "--flow", flow, "--json",
        )
    )  # fmt: skip
    assert created["name"] == "logos"
    assert created["task"] == "detection"
    assert created["dataset"] == "logos"
    assert created["flow"] == flow
    assert created["created_by"] is None  # the command line has no signed-in user
    said = _run(home, "create", "plain", "--task", "classification", "--dataset", "logos")
    assert said.exit_code == 0, said.output
    assert "created pipeline plain" in _said(said.stdout)

    listed = _json(_run(home, "list", "--json"))
    assert [p["name"] for p in listed] == ["logos", "plain"]
    assert [p["flow"] for p in listed] == [flow, None]
    assert "logos" in _run(home, "list").stdout

    shown = _json(_run(home, "show", "logos", "--json"))
    assert shown["deployed_version"] is None
    assert shown["trained_images"] == 0
    params = {p["name"]: p for p in shown["parameters"]}
    assert list(params) == [p.name for p in PARAMETERS]
    assert {n: p["value"] for n, p in params.items()} == defaults()
    assert params[F1]["allowed"] == "a number from 0 to 1"
    assert params[F1]["text"] == "0.8"
    text = _said(_run(home, "show", "logos").stdout)
    assert flow in text
    assert all(p.name in text for p in PARAMETERS)  # whole, never wrapped


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "nope"], "no dataset named 'nope'"),
        (["--dataset", "logos", "--flow", "nope"], "nope"),
        (["--dataset", "logos", "--task", "segmentation"], "classification or detection"),
    ],
)
def test_create_refuses_unknown_terms(home: Path, args: list[str], message: str) -> None:
    task = [] if "--task" in args else ["--task", "classification"]
    refused = _run(home, "create", "logos", *task, *args)
    assert refused.exit_code == 1
    assert message in _said(refused.stderr)
    assert _json(_run(home, "list", "--json")) == []


def test_create_refuses_a_bad_name_and_a_taken_one(home: Path, logos: str) -> None:
    bad = _run(home, "create", "../up", "--task", "classification", "--dataset", "logos")
    assert bad.exit_code == 1
    assert "is not allowed" in _said(bad.stderr)
    again = _run(home, "create", logos, "--task", "classification", "--dataset", "logos", "--json")
    assert again.exit_code == 1
    assert json.loads(again.stdout)["error"] == "AlreadyExists"
    assert [p["name"] for p in _json(_run(home, "list", "--json"))] == [logos]


def test_a_parameter_is_set_from_its_text_and_read_typed(home: Path, logos: str) -> None:
    assert _json(_run(home, "param", "get", logos, F1, "--json"))["value"] == 0.8
    said = _run(home, "param", "set", logos, F1, "0.9")
    assert said.exit_code == 0, said.output
    assert _said(said.stdout) == f"{F1} changed from 0.8 to 0.9"

    got = _json(_run(home, "param", "get", logos, F1, "--json"))
    assert got == {"pipeline": logos, "parameter": F1, "value": 0.9}
    assert _run(home, "param", "get", logos, F1).stdout.strip() == "0.9"

    flag = _json(_run(home, "param", "set", logos, "Enable-A2I-Workflow", "false", "--json"))
    assert flag["changed"] is True
    assert flag["value"] is False
    every = _json(_run(home, "param", "get", logos, "--json"))["parameters"]
    assert every == defaults() | {F1: 0.9, "Enable-A2I-Workflow": False}
    assert _run(home, "param", "get", logos, "Enable-A2I-Workflow").stdout.strip() == "false"
    assert "Minimum-Label-Detection-Confidence" in _run(home, "param", "get", logos).stdout


def test_a_bad_value_is_refused_naming_the_range(home: Path, logos: str) -> None:
    refused = _run(home, "param", "set", logos, F1, "1.5")
    assert refused.exit_code == 1
    assert "a number from 0 to 1" in _said(refused.stderr)
    assert "unchanged" in _said(refused.stderr)
    assert _json(_run(home, "param", "get", logos, F1, "--json"))["value"] == 0.8

    typo = _run(home, "param", "set", logos, "Minimum-F1", "0.5", "--json")
    assert typo.exit_code == 1
    assert "unknown parameter" in json.loads(typo.stdout)["message"]
    assert _json(_run(home, "param", "history", logos, "--json")) == []
    assert _json(_run(home, "runs", logos, "--json")) == []


def test_the_value_in_force_changes_nothing(home: Path, logos: str) -> None:
    same = _json(_run(home, "param", "set", logos, F1, "0.80", "--json"))
    assert same["changed"] is False
    assert same["run_id"] is None
    assert "nothing changed" in same["message"]
    assert "nothing changed" in _said(_run(home, "param", "set", logos, F1, "0.8").stdout)
    assert _json(_run(home, "param", "history", logos, "--json")) == []


def test_history_and_runs_record_each_change(home: Path, logos: str) -> None:
    assert _run(home, "param", "set", logos, F1, "0.9").exit_code == 0
    assert _run(home, "param", "set", logos, F1, "0.95").exit_code == 0
    assert _run(home, "param", "set", logos, "Minimum-Untrained-Images", "50").exit_code == 0

    history = _json(_run(home, "param", "history", logos, "--parameter", F1, "--json"))
    assert [(c["old"], c["new"]) for c in history] == [("0.9", "0.95"), ("0.8", "0.9")]
    assert all(c["changed_by"] is None for c in history)
    assert len(_json(_run(home, "param", "history", logos, "--limit", "1", "--json"))) == 1
    text = _said(_run(home, "param", "history", logos).stdout)
    assert "Minimum-Untrained-Images" in text
    assert "0.95" in text

    runs = _json(_run(home, "runs", logos, "--kind", "parameter-change", "--json"))
    assert [r["kind"] for r in runs] == ["parameter-change"] * 3
    assert [r["status"] for r in runs] == ["succeeded"] * 3
    assert runs[0]["input"]["parameter"] == "Minimum-Untrained-Images"
    older = _json(_run(home, "runs", logos, "--before", str(runs[0]["id"]), "--json"))
    assert [r["id"] for r in older] == [r["id"] for r in runs[1:]]
    assert _json(_run(home, "runs", logos, "--status", "failed", "--json")) == []
    assert "parameter-change" in _run(home, "runs", logos).stdout

    shown = _json(_run(home, "run-show", str(runs[-1]["id"]), "--json"))
    assert shown["pipeline"] == logos
    assert [(s["name"], s["status"]) for s in shown["steps"]] == [("store-parameter", "succeeded")]
    assert shown["steps"][0]["input"] == {
        "parameter": F1, "old": "0.8", "new": "0.9", "changed_by": None
    }  # fmt: skip
    timeline = _said(_run(home, "run-show", str(runs[-1]["id"])).stdout)
    assert "store-parameter" in timeline
    assert "succeeded" in timeline

    missing = _run(home, "run-show", "999")
    assert missing.exit_code == 1
    assert "no pipeline run 999" in _said(missing.stderr)


def test_an_unknown_pipeline_is_named(home: Path) -> None:
    for args in (["show", "nope"], ["param", "get", "nope"], ["runs", "nope"]):
        refused = _run(home, *args)
        assert refused.exit_code == 1
        assert "no pipeline named 'nope'" in _said(refused.stderr)
