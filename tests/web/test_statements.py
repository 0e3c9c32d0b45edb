"""A worker's request over HTTP costs one statement to authenticate (token or cookie) on top of
the labeling service's own (tests/labeling/test_statements.py holds those). Recording a token's
use, once a minute, happens after the response."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.labeling.test_statements import NEXT_STATEMENTS, SUBMIT_STATEMENTS, statements
from tests.web.conftest import sign_in
from tests.web.portal import Portal
from tests.web.test_api import bearer, box, submit_body
from truthloop.storage.tables import ApiTokenRow

AUTH_STATEMENTS = 1


def test_next_and_submit_with_a_token(portal: Portal, client: TestClient) -> None:
    job_id = portal.job()
    headers = bearer(portal, "wendy")
    client.get("/api/me", headers=headers)
    with portal.project.session() as session:  # recorded once the response was sent
        assert session.scalar(select(ApiTokenRow.last_used_at)) is not None
    for n in range(2):
        with statements(portal.project.db) as leasing:
            task = client.post(f"/api/jobs/{job_id}/next", headers=headers).json()
        answer: dict[str, object] = {"kind": "boxes", "boxes": [box("cat", 10, 20, 30, 40)]}
        body = submit_body(answer, f"client-{n:04d}")
        with statements(portal.project.db) as submitting:
            response = client.post(f"/api/tasks/{task['task_id']}/submit", json=body,
                                   headers=headers)
        assert response.json()["accepted"], response.text
        assert len(leasing) <= AUTH_STATEMENTS + NEXT_STATEMENTS, leasing
        assert len(submitting) <= AUTH_STATEMENTS + SUBMIT_STATEMENTS, submitting


def test_next_with_the_session_cookie(portal: Portal, client: TestClient) -> None:
    job_id = portal.job()
    csrf = sign_in(client, "wendy")
    with statements(portal.project.db) as leasing:
        response = client.post(f"/api/jobs/{job_id}/next", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    assert len(leasing) <= AUTH_STATEMENTS + NEXT_STATEMENTS, leasing
