"""`truthloop pipeline subscribe|unsubscribe|subscribers|notifications` from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from truthloop.cli.main import app
from truthloop.core.pipeline_notices import EVENTS
from truthloop.core.types import LabelSet
from truthloop.pipeline import PipelineSpec, create_pipeline
from truthloop.storage.datasets import create_dataset
from truthloop.storage.project import Project

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A project with pipeline `logos` on dataset `logos`."""
    with Project.init(tmp_path / "home") as project, project.session() as session:
        create_dataset(session, "logos", LabelSet.from_names(["a", "b"]))
        create_pipeline(session, PipelineSpec("logos", "classification", "logos"))
    return tmp_path / "home"


def _run(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), "pipeline", *args], catch_exceptions=False)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _said(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


@pytest.mark.parametrize("command", ["subscribe", "unsubscribe", "subscribers", "notifications"])
def test_help_works_for_each_command(home: Path, command: str) -> None:
    result = _run(home, command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.stdout


def test_a_webhook_is_subscribed_its_secret_shown_once_then_listed_without_it(
    home: Path,
) -> None:
    made = _run(home, "subscribe", "logos", "--webhook", "https://example.org/hook")
    assert made.exit_code == 0, made.output
    said = _said(made.stdout)
    assert "subscriber 1: https://example.org/hook is told of every event" in said
    secret = said.split("give it to the receiver): ")[1].strip()
    assert len(secret) >= 32
    listed = _json(_run(home, "subscribers", "logos", "--json"))
    assert listed == [
        {
            "id": 1, "kind": "webhook", "target": "https://example.org/hook",
            "events": list(EVENTS), "active": True, "created_by": None,
            "created_at": listed[0]["created_at"],
        }
    ]  # fmt: skip
    assert secret not in _run(home, "subscribers", "logos").stdout


def test_an_email_subscribes_to_some_events_and_unsubscribes(home: Path) -> None:
    made = _json(
        _run(
            home, "subscribe", "logos", "--email", "ivy@example.org", "--event", "gate-failed",
            "--event", "error", "--json",
        )
    )  # fmt: skip
    assert (made["kind"], made["events"], made["secret"]) == (
        "email", ["gate-failed", "error"], None
    )  # fmt: skip
    table = _run(home, "subscribers", "logos").stdout
    assert "ivy@example.org" in table and "gate-failed, error" in table
    gone = _run(home, "unsubscribe", "logos", str(made["id"]))
    assert gone.exit_code == 0, gone.output
    assert "subscriber 1 (ivy@example.org) is no longer told" in _said(gone.stdout)
    assert _json(_run(home, "subscribers", "logos", "--json"))[0]["active"] is False


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "give one of --email ADDRESS and --webhook URL"),
        (["--email", "a@b.org", "--webhook", "https://b.org/"], "not both nor neither"),
        (["--email", "ivy.example.org"], "is not one address"),
        (["--webhook", "https://b.org/", "--event", "deployed"], "the events are"),
    ],
)
def test_a_bad_subscription_is_an_error_message(home: Path, args: list[str], says: str) -> None:
    result = _run(home, "subscribe", "logos", *args, "--json")
    assert result.exit_code == 1
    assert says in json.loads(result.stdout)["message"]


def test_unsubscribing_an_unknown_subscriber_or_pipeline_says_which(home: Path) -> None:
    result = _run(home, "unsubscribe", "logos", "7")
    assert result.exit_code == 1
    assert "pipeline 'logos' has no subscriber 7" in _said(result.stderr)
    assert _run(home, "subscribers", "nope").exit_code == 1


def test_notifications_show_what_happened_and_what_to_do(home: Path) -> None:
    changed = _run(home, "param", "set", "logos", "Minimum-F1-Score", "0.7")
    assert changed.exit_code == 0, changed.output
    [told] = _json(_run(home, "notifications", "logos", "--json"))
    assert told["event"] == "parameter-changed"
    assert told["data"]["new"] == "0.7"
    shown = _said(_run(home, "notifications", "logos").stdout)
    assert "parameter-changed: [logos] Minimum-F1-Score changed to 0.7" in shown
    assert "set it back with `truthloop pipeline param set logos Minimum-F1-Score 0.8`" in shown
    refused = _run(home, "notifications", "logos", "--limit", "0")
    assert refused.exit_code == 1
