"""Issue 15, items 1 and 7: text a database cannot store (NUL, lone surrogates) or that should
never be a name or a label (control characters, bidirectional overrides) is refused at every
edge with a 4xx naming the field, on SQLite and PostgreSQL, and nothing stored changes.
Labels are one label whatever their Unicode normal form.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError
from typer.testing import CliRunner

from tests.datasets.conftest import box_line, make_image, write_manifest
from tests.security.conftest import bearer, csrf_of, sign_in_over_http
from tests.web.portal import Portal
from truthloop import labeling
from truthloop.cli.main import app as cli
from truthloop.datasets.importing import import_dataset
from truthloop.errors import ImportAborted
from truthloop.storage import datasets as store
from truthloop.storage.tables import ApiTokenRow, DatasetRow, JobRow, TeamRow, UserRow
from truthloop.web.app import create_app

NFC_CAFE = "caf\u00e9"
NFD_CAFE = "cafe\u0301"
RLO = "\u202e"


def count(portal: Portal, table: type) -> int:
    with portal.project.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def refused(response: httpx.Response, *words: str) -> str:
    """The refusal's message, after checking it is a 4xx that names every one of `words`."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    text = html.unescape(response.text)  # pages escape the message; JSON does not
    for word in words:
        assert word in text, (word, text[:500])
    assert "Traceback" not in text and "psycopg" not in text
    return text


def job_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "new-job", "dataset": "shapes", "task_type": "classification", "team": "red",
        "labels": ["cat", "dog"], **overrides,
    }


def test_anonymous_sign_in_with_a_nul_in_the_name_is_refused(http: httpx.Client) -> None:
    response = http.post(
        "/login", data={"username": "a\x00b", "password": "x", "csrf_token": csrf_of(http)}
    )
    refused(response, "username", "U+0000 (NUL)")
    secret = {"username": "mia", "password": "se\x00cret", "csrf_token": csrf_of(http)}
    text = refused(http.post("/login", data=secret), "password", "U+0000 (NUL)")
    assert "se\\x00cret" not in text and "cret" not in text
    assert sign_in_over_http(http, "mia").status_code == 303  # the portal still works


def test_a_nul_in_any_url_parameter_is_refused_before_any_lookup(
    portal: Portal, http: httpx.Client
) -> None:
    headers = bearer(portal, "mia")
    for url in (
        "/api/datasets/a%00b", "/api/datasets/a%00b/items", "/api/models/a%00b",
        "/api/feedback/a%00b", "/api/models?project_name=a%00b",
        "/api/feedback/f/report?test_dataset=a%00b", "/api/datasets/a%E2%80%AEb",
    ):
        refused(http.get(url, headers=headers), "the URL's", "U+")
    sign_in_over_http(http, "mia")
    for page in ("/datasets/a%00b", "/teams/a%00b", "/feedback/a%00b", "/login?next=%00"):
        refused(http.get(page), "the URL's", "U+0000 (NUL)")


def test_a_nul_in_a_team_description_is_refused(portal: Portal, http: httpx.Client) -> None:
    teams = count(portal, TeamRow)
    for description in ("the\x00green team", "\ud800"):
        # As JSON escapes (`\\ud800`): a lone surrogate cannot even be encoded as UTF-8.
        response = http.post(
            "/api/teams", content=json.dumps({"name": "green", "description": description}),
            headers={**bearer(portal, "mia"), "content-type": "application/json"},
        )
        refused(response, "description")
    sign_in_over_http(http, "mia")
    form = {"name": "green", "description": "a\x00b", "csrf_token": csrf_of(http, "/teams")}
    refused(http.post("/teams", data=form), "description", "U+0000 (NUL)")
    assert count(portal, TeamRow) == teams


def test_a_nul_in_a_job_label_or_its_instructions_is_refused(
    portal: Portal, http: httpx.Client
) -> None:
    jobs, headers = count(portal, JobRow), bearer(portal, "mia")
    response = http.post("/api/jobs", json=job_body(labels=["ca\x00t"]), headers=headers)
    refused(response, "labels.0", "U+0000 (NUL)")
    response = http.post("/api/jobs", json=job_body(instructions="Draw\x00"), headers=headers)
    refused(response, "instructions", "U+0000 (NUL)")
    sign_in_over_http(http, "mia")
    form = {
        "name": "form-job", "dataset": "shapes", "task_type": "classification", "team": "red",
        "labels": "cat, do\x00g", "csrf_token": csrf_of(http, "/jobs"),
    }
    refused(http.post("/jobs", data=form), "labels", "U+0000 (NUL)")
    assert count(portal, JobRow) == jobs
    with portal.project.session() as session:
        assert store.label_set_of(session, store.get_dataset(session, "shapes")).names == (
            "cat", "dog", "bird",
        )


def test_a_nul_in_a_display_name_is_refused(portal: Portal, http: httpx.Client) -> None:
    users = count(portal, UserRow)
    body = {"username": "nina", "display_name": "Ni\x00na", "password": "a long passphrase 1"}
    refused(http.post("/api/users", json=body, headers=bearer(portal, "mia")), "display_name")
    sign_in_over_http(http, "mia")
    form = {"username": "nina", "display_name": "Ni\x1bna", "csrf_token": csrf_of(http, "/workers")}
    refused(http.post("/users", data=form), "display_name", "U+001B (ESC)")
    assert count(portal, UserRow) == users


def test_a_nul_in_a_token_name_is_refused(portal: Portal, http: httpx.Client) -> None:
    headers = bearer(portal, "wendy")
    tokens = count(portal, ApiTokenRow)
    response = http.post("/api/me/tokens", json={"name": "laptop\x00"}, headers=headers)
    refused(response, "name", "U+0000 (NUL)")
    assert count(portal, ApiTokenRow) == tokens


def test_a_label_with_a_bidi_override_is_refused_in_jobs_and_answers(
    portal: Portal, http: httpx.Client
) -> None:
    headers = bearer(portal, "mia")
    response = http.post("/api/jobs", json=job_body(labels=["cat", f"{RLO}god"]), headers=headers)
    refused(response, "labels.1", "U+202E (RIGHT-TO-LEFT OVERRIDE)")
    job_id = portal.job("classify", task_type=labeling.TaskType.CLASSIFICATION)
    worker = bearer(portal, "wendy")
    task = http.post(f"/api/jobs/{job_id}/next", headers=worker).json()
    answer = {"kind": "classification", "label": f"{RLO}tac"}
    response = http.post(
        f"/api/tasks/{task['task_id']}/submit", headers=worker,
        json={"client_id": "client-0001", "answer": answer, "seconds": 3},
    )
    refused(response, "label", "U+202E")
    assert http.get(f"/api/jobs/{job_id}/progress", headers=headers).json()["submitted"] == 0


def test_nfc_and_nfd_cafe_are_one_label(portal: Portal, http: httpx.Client) -> None:
    headers = bearer(portal, "mia")
    response = http.post(
        "/api/jobs", json=job_body(labels=[NFD_CAFE, "dog"]), headers=headers
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["labels"] == [NFC_CAFE, "dog"]
    # Both spellings at once are the same label given twice.
    twice = http.post(
        "/api/jobs", json=job_body(name="again", labels=[NFC_CAFE, NFD_CAFE]), headers=headers
    )
    refused(twice, "twice")
    worker = bearer(portal, "wendy")
    task = http.post(f"/api/jobs/{job['id']}/next", headers=worker).json()
    response = http.post(
        f"/api/tasks/{task['task_id']}/submit", headers=worker,
        json={"client_id": "client-0002", "seconds": 3,
              "answer": {"kind": "classification", "label": NFD_CAFE}},
    )
    assert response.status_code == 200 and response.json()["accepted"], response.text
    with portal.project.session() as session:
        names = store.label_set_of(session, store.get_dataset(session, "shapes")).names
    assert names.count(NFC_CAFE) == 1 and NFD_CAFE not in names


def test_a_database_error_that_escapes_is_an_answer_without_a_traceback(
    portal: Portal,
) -> None:
    app = create_app(portal.project)

    @app.get("/api/refused")
    def refused_value() -> None:
        raise DataError("INSERT INTO secret_table", {}, Exception("cannot contain NUL\nDETAIL"))

    @app.get("/api/broken")
    def broken() -> None:
        raise OperationalError("SELECT secret", {}, Exception("server closed the connection"))

    with TestClient(app, raise_server_exceptions=False) as client:
        data = client.get("/api/refused")
        assert data.status_code == 422
        assert data.json() == {
            "error": "DataError", "detail": "the database refused a value: cannot contain NUL"
        }
        failed = client.get("/api/broken")
        assert failed.status_code == 500 and failed.json()["error"] == "InternalError"
        assert "secret" not in failed.text


@pytest.mark.parametrize(
    ("label", "named"),
    [("ca\x00t", "U+0000 (NUL)"), (f"{RLO}god", "U+202E"), ("a\x1bb", "U+001B (ESC)")],
)
def test_a_manifest_line_with_a_bad_label_is_a_format_error_with_file_and_line(
    project: Any, tmp_path: Path, label: str, named: str
) -> None:
    root = tmp_path / "pets"
    lines = []
    for i in range(3):
        make_image(root / f"{i}.png", color=(40 * i, 30, 30))
        line = box_line(f"{i}.png", [(0, 5, 5, 20, 20)])
        if i == 1:
            line["bb-metadata"]["class-map"] = {"0": label}
        lines.append(line)
    manifest = write_manifest(root / "output.manifest", lines)
    with pytest.raises(ImportAborted) as caught:
        import_dataset(project, "pets", manifest, fmt="groundtruth")
    assert f"{manifest}:2" in str(caught.value) and named in str(caught.value)
    with project.session() as session:
        assert session.scalar(select(func.count()).select_from(DatasetRow)) == 0
    report = import_dataset(project, "pets", manifest, fmt="groundtruth", on_error="skip")
    assert report.imported == 2
    with project.session() as session:
        names = store.label_set_of(session, store.get_dataset(session, "pets")).names
    assert names == ("dog", "cat")  # the class map of the good lines, without the bad one


def test_nfc_and_nfd_labels_in_a_manifest_import_as_one(project: Any, tmp_path: Path) -> None:
    root = tmp_path / "pets"
    lines = []
    for i, name in enumerate((NFC_CAFE, NFD_CAFE)):
        make_image(root / f"{i}.png", color=(90 * i, 30, 30))
        line = box_line(f"{i}.png", [(0, 5, 5, 20, 20)])
        line["bb-metadata"]["class-map"] = {"0": name}
        lines.append(line)
    manifest = write_manifest(root / "output.manifest", lines)
    import_dataset(project, "cafes", manifest, fmt="groundtruth")
    with project.session() as session:
        dataset = store.get_dataset(session, "cafes")
        assert store.label_set_of(session, dataset).names == (NFC_CAFE,)
        assert store.summarize(session, dataset).labels == (NFC_CAFE,)


def test_the_cli_refuses_a_bad_label_naming_its_option(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUTHLOOP_DATABASE_URL", project.settings.resolved_database_url)
    home = str(project.home)
    for args, named in (
        (["team", "add", "gr\x1been"], "argument 'gr\\x1been'"),
        (["job", "create", "j", "--dataset", "d", "--team", "t", "--type", "classification",
          f"--labels=cat,{RLO}god"], "--labels"),
        (["dataset", "import", "d", "m.manifest", "--labels", "a\x07b"], "--labels"),
    ):
        result = CliRunner().invoke(cli, ["--home", home, *args])
        output = " ".join(result.output.replace("\u2502", " ").split())  # unboxed, unwrapped
        assert result.exit_code == 2, output
        assert named in output and "which is not allowed" in output
    with project.session() as session:
        for table in (TeamRow, JobRow, DatasetRow):
            assert session.scalar(select(func.count()).select_from(table)) == 0
