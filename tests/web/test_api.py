"""The REST API and the auth rules around it, through FastAPI's TestClient."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.web.conftest import SignInClock, page_csrf, sign_in
from tests.web.portal import HEIGHT, PASSWORD, WIDTH, Portal
from truthloop import labeling
from truthloop.web.app import create_app


def bearer(portal: Portal, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.token(username)}"}


def submit_body(answer: dict[str, object], client_id: str = "client-0001") -> dict[str, object]:
    return {"client_id": client_id, "answer": answer, "seconds": 4.5}


def box(label: str, left: float, top: float, width: float, height: float) -> dict[str, object]:
    return {"label": label, "left": left, "top": top, "width": width, "height": height}


def test_the_api_needs_a_session_or_a_valid_token(portal: Portal, client: TestClient) -> None:
    assert client.get("/api/me").status_code == 401
    bad = client.get("/api/me", headers={"Authorization": "Bearer tl_nope"})
    assert bad.status_code == 401 and "not valid" in bad.json()["detail"]
    me = client.get("/api/me", headers=bearer(portal, "wendy")).json()
    assert (me["username"], me["role"], me["teams"]) == ("wendy", "worker", ["red"])


def test_pages_send_a_visitor_to_the_sign_in_form(client: TestClient) -> None:
    response = client.get("/jobs/1?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/jobs/1%3Fx%3D1"


def test_workers_may_not_call_manager_endpoints(portal: Portal, client: TestClient) -> None:
    headers = bearer(portal, "wendy")
    for path in ("/api/jobs", "/api/datasets", "/api/users", "/api/teams", "/api/quality"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert "managers" in response.json()["detail"]


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/api/me").headers["x-frame-options"] == "DENY"


def test_a_form_post_without_the_csrf_token_is_refused(portal: Portal, client: TestClient) -> None:
    page_csrf(client, "/login")
    refused = client.post("/login", data={"username": "wendy", "password": PASSWORD})
    assert refused.status_code == 403 and "CSRF" in refused.text
    forged = client.post(
        "/login", data={"username": "wendy", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert client.get("/api/me").status_code == 401  # neither post signed anyone in


def test_a_json_post_with_the_session_cookie_needs_the_csrf_header(
    portal: Portal, client: TestClient
) -> None:
    token = sign_in(client, "mia")
    body = {"name": "green"}
    assert client.post("/api/teams", json=body).status_code == 403
    created = client.post("/api/teams", json=body, headers={"X-CSRF-Token": token})
    assert created.status_code == 201 and created.json()["name"] == "green"


def test_an_api_token_needs_no_csrf_token(portal: Portal, client: TestClient) -> None:
    created = client.post("/api/teams", json={"name": "green"}, headers=bearer(portal, "mia"))
    assert created.status_code == 201


def test_an_oversized_body_is_refused(portal: Portal) -> None:
    portal.project.settings.max_request_bytes = 1000
    with TestClient(create_app(portal.project)) as client:
        declared = client.post(
            "/api/teams", content=b"x" * 5000, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert "limit is 1000 bytes" in declared.json()["detail"]

        def chunks():
            for _ in range(10):
                yield b"x" * 500

        streamed = client.post(
            "/api/teams", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413


def test_sign_in_sign_out_and_a_wrong_password(portal: Portal, client: TestClient) -> None:
    token = page_csrf(client, "/login")
    wrong = client.post(
        "/login", data={"username": "wendy", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == 401 and "do not match" in wrong.text
    token = sign_in(client, "wendy")
    assert client.get("/api/me").json()["username"] == "wendy"
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/api/me").status_code == 401


def test_repeated_wrong_passwords_make_sign_in_wait(
    portal: Portal, client: TestClient, sign_in_clock: SignInClock
) -> None:
    token = page_csrf(client, "/login")
    for _ in range(3):  # the free tries
        wrong = client.post(
            "/login", data={"username": "wendy", "password": "nope", "csrf_token": token}
        )
        assert wrong.status_code == 401
    right = {"username": "wendy", "password": PASSWORD, "csrf_token": token}
    held = client.post("/login", data=right)
    assert held.status_code == 429 and held.headers["retry-after"] == "1"
    assert "Too many failed sign-ins: try again in 1 second." in held.text
    sign_in_clock.advance(1.1)  # a short delay, not a lockout: the right password then works
    assert client.post("/login", data=right, follow_redirects=False).status_code == 303


def test_sign_in_never_redirects_to_another_site(portal: Portal, client: TestClient) -> None:
    token = page_csrf(client, "/login")
    response = client.post(
        "/login",
        data={"username": "wendy", "password": PASSWORD, "csrf_token": token,
              "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_an_invitation_link_sets_the_password_once(portal: Portal, client: TestClient) -> None:
    created = client.post(
        "/api/users", json={"username": "nina", "display_name": "Nina"},
        headers=bearer(portal, "mia"),
    )
    assert created.status_code == 201
    link = created.json()["invitation"]
    path = link[link.index("/invitations/"):]
    token = page_csrf(client, path)
    differ = client.post(path, data={"password": "a-long-pass", "repeat": "other-pass",
                                     "csrf_token": token})
    assert differ.status_code == 422 and "differ" in differ.text
    done = client.post(path, data={"password": "a-long-pass", "repeat": "a-long-pass",
                                   "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/api/me").json()["username"] == "nina"
    again = client.get(path)
    assert again.status_code == 422 and "already used" in again.text


def test_only_admins_add_managers(portal: Portal, client: TestClient) -> None:
    body = {"username": "boss", "role": "manager", "password": "long enough"}
    refused = client.post("/api/users", json=body, headers=bearer(portal, "mia"))
    assert refused.status_code == 403
    added = client.post("/api/users", json=body, headers=bearer(portal, "ada"))
    assert added.status_code == 201 and added.json()["invitation"] is None


def test_teams_and_members(portal: Portal, client: TestClient) -> None:
    headers = bearer(portal, "mia")
    added = client.post("/api/teams/blue/members", json={"username": "walt"}, headers=headers)
    assert added.json()["members"] == ["otto", "walt"]
    teams = {t["name"]: t["members"] for t in client.get("/api/teams", headers=headers).json()}
    assert teams == {"blue": ["otto", "walt"], "red": ["walt", "wendy"]}
    missing = client.post("/api/teams/none/members", json={"username": "walt"}, headers=headers)
    assert missing.status_code == 404 and "no team named 'none'" in missing.json()["detail"]


def test_datasets_items_and_thumbnails(portal: Portal, client: TestClient) -> None:
    headers = bearer(portal, "mia")
    assert [d["name"] for d in client.get("/api/datasets", headers=headers).json()] == ["shapes"]
    detail = client.get("/api/datasets/shapes", headers=headers).json()
    assert detail["attributes"] == [
        {"attribute": "model", "images": 3, "images_per_label": {"cat": 3, "dog": 3},
         "objects_per_label": {"cat": 3, "dog": 3}, "sources": {"model": 3}},
        {"attribute": "species", "images": 1, "images_per_label": {"bird": 1},
         "objects_per_label": {"bird": 1}, "sources": {"model": 1}},
    ]
    page = client.get("/api/datasets/shapes/items?limit=2", headers=headers).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    first = page["items"][0]
    assert first["annotations"][0]["value"]["boxes"][0][0] == "cat"
    full = client.get(first["image_url"], headers=headers)
    assert full.headers["content-type"] == "image/png"
    thumb = client.get(first["thumbnail_url"], headers=headers)
    assert thumb.headers["content-type"] == "image/jpeg"
    worker = client.get(first["image_url"], headers=bearer(portal, "wendy"))
    assert worker.status_code == 403


def test_managers_create_follow_and_cancel_jobs(portal: Portal, client: TestClient) -> None:
    headers = bearer(portal, "mia")
    body = {"name": "kinds", "dataset": "shapes", "task_type": "classification", "team": "red",
            "labels": ["cat", "dog"], "price_per_task": 0.05}
    job = client.post("/api/jobs", json=body, headers=headers).json()
    assert (job["name"], job["labels"], job["status"]) == ("kinds", ["cat", "dog"], "in-progress")
    again = client.post("/api/jobs", json=body, headers=headers)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    progress = client.get(f"/api/jobs/{job['id']}/progress", headers=headers).json()
    assert (progress["total_items"], progress["waiting"], progress["done"]) == (4, 4, 0)
    cancelled = client.post(f"/api/jobs/{job['id']}/cancel", headers=headers).json()
    assert cancelled["status"] == "stopped"


def test_a_job_with_automated_labeling_starts_with_a_first_batch(
    portal: Portal, client: TestClient
) -> None:
    headers = bearer(portal, "mia")
    body = {"name": "auto", "dataset": "shapes", "task_type": "bounding-box", "team": "red",
            "auto_label": {"batch_size": 1, "validation_size": 1, "target_accuracy": 0.9}}
    job = client.post("/api/jobs", json=body, headers=headers).json()
    assert (job["status"], job["proposals"]) == ("in-progress", "auto-proposals")
    progress = client.get(f"/api/jobs/{job['id']}/progress", headers=headers).json()
    assert (progress["total_items"], progress["waiting"]) == (4, 2)  # one to train, one held out
    plain = client.post("/api/jobs", headers=headers, json={
        **body, "name": "auto1", "auto_label": {"pre_annotate": False}}).json()
    assert plain["proposals"] is None
    assert client.get(f"/api/jobs/{job['id']}/iterations", headers=headers).json() == []
    refused = client.post("/api/jobs", headers=headers, json={
        **body, "name": "auto2", "auto_label": {"initial_model": "nope:1"}})
    assert refused.status_code == 404 and "nope" in refused.json()["detail"]
    bad = client.post("/api/jobs", headers=headers, json={
        **body, "name": "auto3", "auto_label": {"target_accuracy": 1.5}})
    assert bad.status_code == 422
    shrinking = client.post("/api/jobs", headers=headers, json={
        **body, "name": "auto4", "auto_label": {"validation_size": 5, "validation_max": 2}})
    assert shrinking.status_code == 422
    assert "validation max (2) must be at least" in shrinking.json()["detail"]
    unknown = client.post("/api/jobs", headers=headers, json={
        **body, "name": "auto5", "auto_label": {"backbone": "resnet"}})
    assert unknown.status_code == 422 and "unknown backbone 'resnet'" in unknown.json()["detail"]
    scratch = client.post("/api/jobs", headers=headers, json={
        **body, "name": "auto6", "auto_label": {"backbone": "scratch"}})
    assert scratch.status_code == 201, scratch.text


def test_a_job_with_bad_terms_is_refused_with_a_message(portal: Portal, client: TestClient) -> None:
    body = {"name": "check", "dataset": "shapes", "task_type": "label-verification",
            "team": "red"}
    refused = client.post("/api/jobs", json=body, headers=bearer(portal, "mia"))
    assert refused.status_code == 422 and "needs proposals" in refused.json()["detail"]


def test_a_worker_labels_through_the_api(portal: Portal, client: TestClient) -> None:
    job_id = portal.job()
    headers = bearer(portal, "wendy")
    assert [j["name"] for j in client.get("/api/my-jobs", headers=headers).json()] == ["boxes-job"]
    task = client.post(f"/api/jobs/{job_id}/next", headers=headers).json()
    assert (task["width"], task["height"], task["task_type"]) == (WIDTH, HEIGHT, "bounding-box")
    assert "<strong>every</strong>" in task["instructions_html"]
    assert task["proposals"] is None
    image = client.get(task["image_url"], headers=headers)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    url = f"/api/tasks/{task['task_id']}/submit"
    body = submit_body({"kind": "boxes", "boxes": [box("cat", 10, 20, 30, 40)]})
    first = client.post(url, json=body, headers=headers).json()
    assert first["accepted"] and not first["duplicate"]
    retry = client.post(url, json=body, headers=headers).json()
    assert retry["duplicate"]


def test_boxes_outside_the_image_are_refused_with_a_message(
    portal: Portal, client: TestClient
) -> None:
    job_id = portal.job()
    headers = bearer(portal, "wendy")
    task = client.post(f"/api/jobs/{job_id}/next", headers=headers).json()
    url = f"/api/tasks/{task['task_id']}/submit"
    bad_boxes = {
        "negative": box("cat", -5, 10, 20, 20),
        "negative size": box("cat", 50, 10, -20, 20),
        "past the right edge": box("cat", WIDTH - 10, 10, 20, 20),
        "past the bottom": box("cat", 10, HEIGHT - 1, 5, 5),
    }
    for n, (case, bad) in enumerate(bad_boxes.items()):
        response = client.post(
            url, json=submit_body({"kind": "boxes", "boxes": [bad]}, f"client-bad-{n}"),
            headers=headers,
        )
        assert response.status_code == 422, case
        detail = response.json()["detail"]
        assert "box 1 (cat)" in detail, (case, detail)
    unknown = client.post(
        url, json=submit_body({"kind": "boxes", "boxes": [box("yak", 1, 1, 5, 5)]}, "client-yak"),
        headers=headers,
    )
    assert unknown.status_code == 422 and "'yak' is not one of" in unknown.json()["detail"]
    nan = client.post(
        url, content=json.dumps(submit_body(
            {"kind": "boxes", "boxes": [box("cat", float("nan"), 1, 5, 5)]}, "client-nan")),
        headers={**headers, "content-type": "application/json"},
    )
    assert nan.status_code == 422
    good = client.post(
        url, json=submit_body({"kind": "boxes", "boxes": [box("cat", 0, 0, WIDTH, HEIGHT)]}),
        headers=headers,
    )
    assert good.json()["accepted"]


def test_a_worker_of_another_team_gets_nothing(portal: Portal, client: TestClient) -> None:
    job_id = portal.job()
    task = client.post(f"/api/jobs/{job_id}/next", headers=bearer(portal, "wendy")).json()
    otto = bearer(portal, "otto")
    assert client.get("/api/my-jobs", headers=otto).json() == []
    # As for a job or task that does not exist, so that nothing of another team's shows.
    assert client.post(f"/api/jobs/{job_id}/next", headers=otto).status_code == 404
    for path in (f"/api/tasks/{task['task_id']}", f"/api/tasks/{task['task_id']}/image"):
        assert client.get(path, headers=otto).status_code == 404, path
    body = submit_body({"kind": "boxes", "boxes": []})
    refused = client.post(f"/api/tasks/{task['task_id']}/submit", json=body, headers=otto)
    assert refused.status_code == 404


def test_no_task_left_answers_204_and_release_passes_it_on(
    portal: Portal, client: TestClient
) -> None:
    job_id = portal.job(subset=labeling.Subset(query="/0.png"))
    headers = bearer(portal, "wendy")
    task = client.post(f"/api/jobs/{job_id}/next", headers=headers).json()
    assert client.post(f"/api/jobs/{job_id}/next", headers=headers).status_code == 204
    released = client.post(f"/api/tasks/{task['task_id']}/release", headers=headers)
    assert released.status_code == 204
    assert client.post(f"/api/jobs/{job_id}/next", headers=headers).status_code == 204
    other = client.post(f"/api/jobs/{job_id}/next", headers=bearer(portal, "walt")).json()
    assert other["item_id"] == task["item_id"]


def test_manifest_download_and_quality(portal: Portal, client: TestClient) -> None:
    job_id = portal.job(name="one", subset=labeling.Subset(query="/1.png"))
    worker = bearer(portal, "walt")
    task = client.post(f"/api/jobs/{job_id}/next", headers=worker).json()
    client.post(
        f"/api/tasks/{task['task_id']}/submit",
        json=submit_body({"kind": "boxes", "boxes": [box("dog", 1, 2, 3, 4)]}), headers=worker,
    )
    manager = bearer(portal, "mia")
    response = client.get(f"/api/jobs/{job_id}/manifest", headers=manager)
    assert response.status_code == 200
    assert 'filename="one.manifest"' in response.headers["content-disposition"]
    [line] = [json.loads(x) for x in response.text.splitlines()]
    assert line["one"]["annotations"] == [
        {"class_id": 1, "left": 1, "top": 2, "width": 3, "height": 4}
    ]
    quality = client.get(f"/api/jobs/{job_id}/quality", headers=manager).json()
    assert [(q["username"], q["submitted"]) for q in quality] == [("walt", 1)]


def test_openapi_lists_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/jobs", "/api/jobs/{job_id}/next", "/api/tasks/{task_id}/submit",
                 "/api/me/tokens", "/api/datasets/{name}/items"):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_manager_forms_create_teams_and_jobs(portal: Portal, client: TestClient) -> None:
    token = sign_in(client, "mia")
    refused = client.post("/teams", data={"name": "green"})
    assert refused.status_code == 403
    team = client.post("/teams", data={"name": "green", "csrf_token": token},
                       follow_redirects=False)
    assert (team.status_code, team.headers["location"]) == (303, "/teams/green")
    form = {"name": "kinds", "dataset": "shapes", "task_type": "classification", "team": "red",
            "labels": "cat, dog", "verification_categories": "correct, incorrect",
            "csrf_token": token}
    job = client.post("/jobs", data=form, follow_redirects=False)
    assert job.status_code == 303
    page = client.get(job.headers["location"])
    assert page.status_code == 200 and "kinds" in page.text
    bad = client.post("/jobs", data={**form, "name": "two", "verification_categories": "one"})
    assert bad.status_code == 422 and "verification_categories" in bad.text
    auto = client.post("/jobs", data={**form, "name": "auto", "auto_label": "true",
                                      "target_accuracy": "0.9"}, follow_redirects=False)
    assert auto.status_code == 303
    page = client.get(auto.headers["location"]).text
    assert "Automated labeling" in page and "target accuracy 90 %" in page
    too_sure = client.post("/jobs", data={**form, "name": "sure", "auto_label": "true",
                                          "target_accuracy": "1"})
    assert too_sure.status_code == 422 and "target_accuracy" in too_sure.text
