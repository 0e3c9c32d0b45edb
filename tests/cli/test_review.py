"""`truthloop review ...`: the human review workflow (A2I) driven from the command line, from a
task template to a manifest of the reviewed images."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import update
from typer.testing import CliRunner, Result

from tests.cli.review_setup import make_flow
from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from truthloop import labeling
from truthloop.cli.main import app
from truthloop.ml import registry
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.people import add_member, add_team, add_user, get_user
from truthloop.review import get_flow, submit_review
from truthloop.review.templates import CROWD_ELEMENTS_URL, EXAMPLE_TEMPLATE
from truthloop.storage.project import Project
from truthloop.storage.tables import TaskRow

runner = CliRunner()

BOX_ANSWER = {
    "annotatedResult": {
        "boundingBoxes": [{"label": "cat", "left": 1, "top": 2, "width": 30, "height": 40}],
        "inputImageProperties": {"width": 64, "height": 48},
    }
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A project with a review team (alice, bob) and an outsider's team (mallory)."""
    with Project.init(tmp_path / "home") as project, project.session() as session:
        add_team(session, "reviewers")
        add_team(session, "others")
        for name in ("alice", "bob", "mallory"):
            add_user(session, name, password=None)
            add_member(session, "others" if name == "mallory" else "reviewers", name)
    return tmp_path / "home"


@pytest.fixture
def flow(home: Path, tmp_path: Path) -> str:
    """Task UI `boxes-ui` (A2I's example template) and flow `pets-review`, Active."""
    return make_flow(home, tmp_path, "pets-review", "Check the boxes")

def _run(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), "review", *args], catch_exceptions=False)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _said(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


def _input(home: Path, name: str = "cat.png", **extra: Any) -> str:
    """A loop's input for a real 64x48 PNG inside the project home."""
    image = home / "images" / name
    image.parent.mkdir(exist_ok=True)
    Image.new("RGB", (64, 48), "orange").save(image)
    # The model's labels in its order, as a detect-started loop carries them.
    body = {"taskObject": str(image), "labels": ["dog", "cat"], "initialValue": []} | extra
    return json.dumps(body)


def _answer(home: Path, flow: str, user: str = "alice") -> None:
    """A reviewer takes the flow's next task and answers it with a box, as the portal does."""
    with Project.open(home) as project:
        with project.session() as session:
            job_id = get_flow(session, flow).job_id
            user_id = get_user(session, user).id
        task = labeling.next_task(project.db, job_id, user_id)
        assert task is not None
        submit_review(project, task.task_id, user_id, client_id="c1", answer=BOX_ANSWER, seconds=7)


@pytest.mark.parametrize(
    "group",
    [
        [],
        ["ui"],
        ["flow"],
        ["loop"],
        ["ui", "render"],
        ["flow", "create"],
        ["loop", "list"],
        ["export"],
        ["advance"],
    ],
)
def test_help_works_for_each_group(home: Path, group: list[str]) -> None:
    result = _run(home, *group, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.stdout


def test_task_uis_are_created_listed_shown_and_deleted(home: Path, tmp_path: Path) -> None:
    template = tmp_path / "boxes.liquid"
    template.write_text(EXAMPLE_TEMPLATE, encoding="utf-8")
    created = _json(_run(home, "ui", "create", "boxes-ui", str(template), "--json"))
    assert created["HumanTaskUiName"] == "boxes-ui"
    assert created["UiTemplate"]["Characters"] == len(EXAMPLE_TEMPLATE)

    listed = _json(_run(home, "ui", "list", "--json"))
    assert [ui["HumanTaskUiName"] for ui in listed] == ["boxes-ui"]
    assert "boxes-ui" in _run(home, "ui", "list").stdout
    assert _run(home, "ui", "show", "boxes-ui").stdout == EXAMPLE_TEMPLATE
    assert _json(_run(home, "ui", "show", "boxes-ui", "--json"))["UiTemplate"]["Content"] == (
        EXAMPLE_TEMPLATE
    )

    again = _run(home, "ui", "create", "boxes-ui", str(template))
    assert again.exit_code == 1 and "already exists" in _said(again.stderr)
    assert _json(_run(home, "ui", "delete", "boxes-ui", "--json")) == {"deleted": "boxes-ui"}
    assert _json(_run(home, "ui", "list", "--json")) == []
    missing = _run(home, "ui", "show", "boxes-ui")
    assert missing.exit_code == 1 and "no human task UI 'boxes-ui'" in _said(missing.stderr)


def test_a_template_with_a_liquid_error_is_refused_naming_the_line(
    home: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.liquid"
    broken.write_text(
        "<crowd-form>\n  <p>{{ task.input.text }}</p>\n  {% if task.input.x %}\n"
        "  <p>x</p>\n</crowd-form>\n",
        encoding="utf-8",
    )
    result = _run(home, "ui", "create", "broken", str(broken))
    assert result.exit_code == 1
    assert ":3: Liquid syntax error: expected tag endif" in _said(result.stderr)
    as_json = _run(home, "ui", "create", "broken", str(broken), "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["message"].startswith(f"{broken}:3: ")
    assert _json(_run(home, "ui", "list", "--json")) == []
    unreadable = _run(home, "ui", "create", "nothing", str(tmp_path / "none.liquid"))
    assert unreadable.exit_code == 1 and "cannot read the template file" in _said(unreadable.stderr)


def test_render_shows_the_input_escaped(flow: str, home: Path, tmp_path: Path) -> None:
    hostile = {
        "taskObject": "s3://bucket/cat.png",
        "labels": ["cat"],
        "initialValue": [],
        "instructions": "<script>alert(1)</script> & more",
    }
    result = _run(home, "ui", "render", "boxes-ui", "--input-json", json.dumps(hostile))
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "<script>alert" not in page
    assert 'src="preview:s3://bucket/cat.png"' in page  # previews sign no links
    assert f'<script src="{CROWD_ELEMENTS_URL}">' in page  # A2I's loader, served locally
    assert result.stderr == ""

    # From a template file, to --out, with the keys the sample lacks reported on stderr.
    template, sample, out = tmp_path / "t.liquid", tmp_path / "in.json", tmp_path / "page.html"
    template.write_text("<p>{{ task.input.text }}</p>\n<p>{{ task.input.missing }}</p>\n")
    sample.write_text('{"text": "<b>hi</b>"}')
    written = _run(
        home, "ui", "render", "--template", str(template), "--input", str(sample), "--out", str(out)
    )
    assert written.exit_code == 0, written.output
    assert out.read_text() == "<p>&lt;b&gt;hi&lt;/b&gt;</p>\n<p></p>\n"
    assert "line 2: 'task.input.missing' is not in the sample input" in _said(written.stderr)

    partial = {"taskObject": "s3://bucket/cat.png"}
    as_json = _json(
        _run(home, "ui", "render", "boxes-ui", "--input-json", json.dumps(partial), "--json")
    )
    assert as_json["RenderedContent"].startswith("<script")
    assert any("'task.input.initialValue' is not in the sample" in e for e in as_json["Errors"])

    # No taskObject: grant_read_access has no URI, so nothing renders (exit code 1).
    failed = _run(home, "ui", "render", "boxes-ui", "--input-json", "{}", "--json")
    assert failed.exit_code == 1
    refused = json.loads(failed.stdout)
    assert refused["RenderedContent"] == ""
    assert any("line 6: grant_read_access needs a URI" in e for e in refused["Errors"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input-json", "[1]"], "must be a JSON object"),
        (["--input-json", "{}", "--input", "x.json"], "not both"),
        ([], "give the input"),
        (["--template", "t.liquid", "--input-json", "{}"], "NAME or --template FILE"),
    ],
)
def test_render_refuses_what_it_cannot_render(
    flow: str, home: Path, args: list[str], message: str
) -> None:
    result = _run(home, "ui", "render", "boxes-ui", *args)
    assert result.exit_code == 1 and message in _said(result.stderr)


def test_a_template_that_cannot_render_exits_non_zero(home: Path, tmp_path: Path) -> None:
    template = tmp_path / "t.liquid"
    template.write_text("<p>\n{% for x in task.input.xs %}\n")
    result = _run(home, "ui", "render", "--template", str(template), "--input-json", "{}")
    assert result.exit_code == 1
    assert "line 2" in _said(result.stderr) and result.stdout == ""


def _fake_versions(home: Path) -> None:
    """pets.v1 and pets.v2: a flow may only be attached to a version that exists."""
    with Project.open(home) as project:
        store_shapes(project, "pets", shapes(3, task="detection", size=64, seed=5))
        for _ in range(2):
            registry.train_version(
                project,
                "pets",
                dataset="pets",
                task="detection",
                model=FakeModel(task=Task.DETECTION),
            )


def test_flows_are_created_shown_listed_attached_and_deleted(home: Path, flow: str) -> None:
    _fake_versions(home)
    created = _json(
        _run(
            home,
            "flow",
            "create",
            "more",
            "--team",
            "reviewers",
            "--ui",
            "boxes-ui",
            "--title",
            "More boxes",
            "--output",
            "more-output",
            "--task-count",
            "2",
            "--lifetime",
            "600",
            "--time-limit",
            "60",
            "--conditions-json",
            '{"Conditions": [{"ConditionType": "Sampling",'
            ' "ConditionParameters": {"RandomSamplingPercentage": 10}}]}',
            "--model",
            "pets.v1",
            "--json",
        )
    )
    assert created["FlowDefinitionStatus"] == "Active"
    assert created["HumanLoopConfig"] == {
        "Workteam": "reviewers",
        "HumanTaskUi": "boxes-ui",
        "TaskTitle": "More boxes",
        "TaskDescription": "",
        "TaskCount": 2,
        "TaskAvailabilityLifetimeInSeconds": 600,
        "TaskTimeLimitInSeconds": 60,
    }
    assert created["ModelVersion"] == "pets.v1"
    assert created["OutputConfig"]["S3OutputPath"] == str((home / "more-output").resolve())

    shown = _json(_run(home, "flow", "show", "more", "--json"))
    assert shown == created
    assert "Sampling" in _run(home, "flow", "show", "more").stdout
    listed = _json(_run(home, "flow", "list", "--json"))
    assert [f["FlowDefinitionName"] for f in listed] == ["more", flow]
    assert "Active" in _run(home, "flow", "list").stdout

    detached = _json(_run(home, "flow", "detach", "more", "--json"))
    assert detached == {"FlowDefinitionName": "more", "ModelVersion": None}
    attached = _run(home, "flow", "attach", "more", "pets.v2")
    assert attached.exit_code == 0 and "pets.v2" in attached.stdout
    assert _json(_run(home, "flow", "show", "more", "--json"))["ModelVersion"] == "pets.v2"

    assert _json(_run(home, "flow", "delete", "more", "--json")) == {"deleted": "more"}
    unknown = _run(home, "flow", "attach", flow, "pets.v9")
    assert unknown.exit_code == 1 and "pets.v9" in _said(unknown.stderr)
    missing = _run(home, "flow", "show", "more")
    assert missing.exit_code == 1 and "no flow definition 'more'" in _said(missing.stderr)


def test_bad_conditions_are_refused_naming_the_node(home: Path, flow: str) -> None:
    conditions = json.dumps(
        {
            "Conditions": [
                {
                    "Or": [
                        {
                            "ConditionType": "Sampling",
                            "ConditionParameters": {"RandomSamplingPercentage": 5},
                        },
                        {
                            "ConditionType": "Sampling",
                            "ConditionParameters": {"RandomSamplingPercentage": 500},
                        },
                    ]
                }
            ]
        }
    )
    result = _run(
        home,
        "flow",
        "create",
        "bad",
        "--team",
        "reviewers",
        "--ui",
        "boxes-ui",
        "--title",
        "t",
        "--output",
        "out",
        "--conditions-json",
        conditions,
        "--json",
    )
    assert result.exit_code == 1
    message = json.loads(result.stdout)["message"]
    assert "Conditions[0].Or[1].ConditionParameters.RandomSamplingPercentage" in message
    assert [f["FlowDefinitionName"] for f in _json(_run(home, "flow", "list", "--json"))] == [flow]


def test_a_flow_that_cannot_write_its_output_is_failed(home: Path, flow: str) -> None:
    (home / "a-file").write_text("not a folder")
    result = _run(
        home,
        "flow",
        "create",
        "nowhere",
        "--team",
        "reviewers",
        "--ui",
        "boxes-ui",
        "--title",
        "t",
        "--output",
        "a-file",
    )
    assert result.exit_code == 1
    assert "flow nowhere is Failed: cannot write to the output location" in _said(result.stdout)
    as_json = _run(home, "flow", "show", "nowhere", "--json")
    assert json.loads(as_json.stdout)["FlowDefinitionStatus"] == "Failed"
    loop = _run(home, "loop", "start", "l1", "--flow", "nowhere", "--input-json", "{}")
    assert loop.exit_code == 1 and "is Failed" in _said(loop.stderr)


def test_loops_start_once_list_by_page_stop_and_delete(home: Path, flow: str) -> None:
    body = _input(home)
    first = _json(
        _run(
            home,
            "loop",
            "start",
            "loop-1",
            "--flow",
            flow,
            "--input-json",
            body,
            "--content-classifier",
            "FreeOfAdultContent",
            "--json",
        )
    )
    assert (first["HumanLoopStatus"], first["New"]) == ("InProgress", True)
    again = _run(home, "loop", "start", "loop-1", "--flow", flow, "--input-json", body)
    assert again.exit_code == 0 and "already exists with this input" in _said(again.stdout)
    other = _run(
        home, "loop", "start", "loop-1", "--flow", flow, "--input-json", _input(home, "dog.png")
    )
    assert other.exit_code == 1 and "already exists with another input" in _said(other.stderr)
    classifier = _run(
        home,
        "loop",
        "start",
        "loop-x",
        "--flow",
        flow,
        "--input-json",
        body,
        "--content-classifier",
        "Nope",
    )
    assert classifier.exit_code == 1 and "ContentClassifiers" in _said(classifier.stderr)

    for name in ("loop-2", "loop-3"):
        started = _run(home, "loop", "start", name, "--flow", flow, "--input-json", body)
        assert started.exit_code == 0
    seen: list[str] = []
    token: str | None = None
    for _ in range(3):
        extra: list[str] = ["--next-token", token] if token else []
        page = _json(
            _run(home, "loop", "list", flow, "--max-results", "1", "--ascending", *extra, "--json")
        )
        assert len(page["HumanLoopSummaries"]) == 1
        seen.append(page["HumanLoopSummaries"][0]["HumanLoopName"])
        token = page["NextToken"]
    assert seen == ["loop-1", "loop-2", "loop-3"] and token is None
    human = _run(home, "loop", "list", flow, "--max-results", "2")
    assert "loop-3" in human.stdout and "more: --next-token" in human.stdout
    assert (
        _json(
            _run(
                home,
                "loop",
                "list",
                flow,
                "--after",
                "2000-01-01",
                "--before",
                "2000-01-02",
                "--json",
            )
        )["HumanLoopSummaries"]
        == []
    )
    bad_time = _run(home, "loop", "list", flow, "--after", "yesterday")
    assert bad_time.exit_code == 1 and "ISO 8601" in _said(bad_time.stderr)

    busy = _run(home, "loop", "delete", "loop-2")
    assert busy.exit_code == 1 and "stop it first" in _said(busy.stderr)
    stopped = _json(_run(home, "loop", "stop", "loop-2", "--json"))
    assert stopped["HumanLoopStatus"] == "Stopped"
    listed = _json(_run(home, "loop", "list", flow, "--status", "Stopped", "--json"))
    assert [s["HumanLoopName"] for s in listed["HumanLoopSummaries"]] == ["loop-2"]
    assert _json(_run(home, "loop", "delete", "loop-2", "--json")) == {"deleted": "loop-2"}
    gone = _run(home, "loop", "show", "loop-2")
    assert gone.exit_code == 1 and "no human loop 'loop-2'" in _said(gone.stderr)

    in_use = _run(home, "flow", "delete", flow)
    assert in_use.exit_code == 1 and "in progress or stopping" in _said(in_use.stderr)


def test_a_reviewed_loop_shows_its_answers_and_exports_a_manifest(
    home: Path, flow: str, tmp_path: Path
) -> None:
    (home / "loop.json").write_text(_input(home))
    started = _run(
        home, "loop", "start", "cat-1", "--flow", flow, "--input", str(home / "loop.json")
    )
    assert started.exit_code == 0 and "started human loop cat-1" in _said(started.stdout)
    waiting = _json(_run(home, "loop", "show", "cat-1", "--answers", "--json"))
    assert (waiting["HumanLoopStatus"], waiting["humanAnswers"]) == ("InProgress", None)

    _answer(home, flow)
    shown = _json(_run(home, "loop", "show", "cat-1", "--answers", "--json"))
    assert shown["HumanLoopStatus"] == "Completed"
    assert Path(shown["HumanLoopOutput"]["OutputS3Uri"]).is_file()
    [answer] = shown["humanAnswers"]
    assert answer["answerContent"] == BOX_ANSWER
    assert answer["workerMetadata"]["identityData"]["sub"] == "alice"
    human = _run(home, "loop", "show", "cat-1", "--answers").stdout
    assert "alice at" in human and '"boundingBoxes"' in human
    assert _json(_run(home, "advance", "--json")) == {"moved": 0}

    dest = tmp_path / "reviewed.manifest"
    exported = _json(_run(home, "export", flow, str(dest), "--json"))
    assert (exported["lines"], exported["loops"], exported["counts"]["skipped"]) == (1, 1, 0)
    [line] = [json.loads(text) for text in dest.read_text().splitlines()]
    assert line["source-ref"] == str(home / "images" / "cat.png")
    [box] = line["a2i-retraining"]["annotations"]
    assert (box["class_id"], box["left"], box["top"], box["width"], box["height"]) == (
        1,
        1,
        2,
        30,
        40,
    )  # cat is the model's second label
    metadata = line["a2i-retraining-metadata"]
    assert metadata["class-map"] == {"1": "cat"}
    assert metadata["human-annotated"] == "yes"

    human_export = _run(
        home, "export", flow, str(tmp_path / "again.manifest"), "--attribute", "reviewed"
    )
    assert human_export.exit_code == 0
    assert "wrote 1 lines from 1 completed loops" in _said(human_export.stdout)
    assert "reviewed" in json.loads((tmp_path / "again.manifest").read_text())


def test_advance_expires_loops_nobody_took(home: Path, tmp_path: Path) -> None:
    template = tmp_path / "t.liquid"
    template.write_text("<p>{{ task.input.text }}</p>")
    assert _run(home, "ui", "create", "plain", str(template)).exit_code == 0
    assert (
        _run(
            home,
            "flow",
            "create",
            "quick",
            "--team",
            "reviewers",
            "--ui",
            "plain",
            "--title",
            "t",
            "--output",
            "out",
            "--lifetime",
            "60",
        ).exit_code
        == 0
    )
    assert (
        _run(
            home, "loop", "start", "old", "--flow", "quick", "--input-json", '{"text": "hi"}'
        ).exit_code
        == 0
    )
    assert _json(_run(home, "advance", "--json")) == {"moved": 0}
    with Project.open(home) as project, project.session() as session:
        # The lifetime ran out long ago: no slot of the loop can be taken any more.
        session.execute(update(TaskRow).values(available_until=datetime(2000, 1, 1)))
    moved = _run(home, "advance")
    assert moved.exit_code == 0 and "1 human loop(s) moved on" in moved.stdout
    shown = _json(_run(home, "loop", "show", "old", "--json"))
    assert (shown["HumanLoopStatus"], shown["FailureCode"]) == ("Failed", "Expired")
    assert _json(_run(home, "loop", "delete", "old", "--json")) == {"deleted": "old"}
