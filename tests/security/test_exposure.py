"""What a worker can learn that is not theirs: other teams' jobs, the server's folders and
memory (issue 15, item 7). Through the real HTTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.security.conftest import bearer, sign_in_over_http
from tests.web.portal import Portal
from truthloop import labeling
from truthloop.people import get_user
from truthloop.web.handlers import public_message


def _submit(box: Mapping[str, object]) -> dict[str, object]:
    return {"client_id": "probe-0001", "answer": {"kind": "boxes", "boxes": [box]}, "seconds": 2}


def test_a_non_member_gets_the_answer_for_a_job_that_does_not_exist(
    portal: Portal, http: httpx.Client
) -> None:
    job_id = portal.job(name="secret-launch")
    otto = bearer(portal, "otto")  # team blue; the job is team red's
    theirs = http.post(f"/api/jobs/{job_id}/next", headers=otto)
    nothing = http.post(f"/api/jobs/{job_id + 1000}/next", headers=otto)
    assert (theirs.status_code, nothing.status_code) == (404, 404)
    assert theirs.json() == {"error": "NotFound", "detail": f"no job {job_id}"}
    assert nothing.json() == {"error": "NotFound", "detail": f"no job {job_id + 1000}"}
    assert "secret-launch" not in theirs.text

    sign_in_over_http(http, "otto")
    page = http.get(f"/work/{job_id}")
    assert page.status_code == 404 and "secret-launch" not in page.text


def test_a_non_member_cannot_tell_another_teams_task_from_none(
    portal: Portal, http: httpx.Client
) -> None:
    job_id = portal.job(name="secret-launch")
    task = http.post(f"/api/jobs/{job_id}/next", headers=bearer(portal, "wendy")).json()
    otto = bearer(portal, "otto")
    for task_id in (task["task_id"], task["task_id"] + 1000):
        for answer in (
            http.get(f"/api/tasks/{task_id}", headers=otto),
            http.get(f"/api/tasks/{task_id}/image", headers=otto),
            http.post(f"/api/tasks/{task_id}/submit", json=_submit({}), headers=otto),
        ):
            assert answer.status_code in (404, 422), answer.text
            if answer.status_code == 404:
                assert answer.json() == {"error": "NotFound", "detail": f"no task {task_id}"}
            assert "secret-launch" not in answer.text


def test_a_box_under_a_pixel_is_refused_naming_the_box(portal: Portal, http: httpx.Client) -> None:
    job_id = portal.job()
    wendy = bearer(portal, "wendy")
    task = http.post(f"/api/jobs/{job_id}/next", headers=wendy).json()
    tiny = {"label": "cat", "left": 10, "top": 10, "width": 1e-300, "height": 20}
    refused = http.post(f"/api/tasks/{task['task_id']}/submit", json=_submit(tiny), headers=wendy)
    assert refused.status_code == 422
    assert "box 1 (cat) is 1e-300x20" in refused.json()["detail"]
    assert "at least 1 pixel" in refused.json()["detail"]
    whole = tiny | {"width": 1}
    kept = http.post(f"/api/tasks/{task['task_id']}/submit", json=_submit(whole), headers=wendy)
    assert kept.status_code == 200 and kept.json()["accepted"]


def test_a_workers_error_shows_no_server_path_or_address(
    portal: Portal, http: httpx.Client
) -> None:
    job_id = portal.job()
    wendy = bearer(portal, "wendy")
    task = http.post(f"/api/jobs/{job_id}/next", headers=wendy).json()
    with portal.project.session() as session:
        user = get_user(session, "wendy")
        uri = labeling.get_task(session, task["task_id"], user.id).image_uri
    Path(uri).unlink()  # the image is gone from the server's disk
    answer = http.get(f"/api/tasks/{task['task_id']}/image", headers=wendy)
    assert answer.status_code >= 400
    folder = str(Path(uri).parent)
    assert folder not in answer.text and str(portal.project.home) not in answer.text
    assert "0x" not in answer.text and "Traceback" not in answer.text


def test_messages_over_http_keep_file_names_and_lose_folders_and_addresses() -> None:
    assert public_message(
        "cannot read the image /srv/truthloop/blobs/ab/cd.png: [Errno 2] No such file or"
        " directory: '/srv/truthloop/blobs/ab/cd.png'"
    ) == "cannot read the image cd.png: [Errno 2] No such file or directory: 'cd.png'"
    assert public_message("task 7: not an answer: <app.Thing object at 0x7f3a9c2b1d60>") == (
        "task 7: not an answer: <app.Thing object>"
    )
    for kept in ("s3://bucket/images/a.png: no such image", "box 1 (cat) at left=1/2", "no job 3"):
        assert public_message(kept) == kept
