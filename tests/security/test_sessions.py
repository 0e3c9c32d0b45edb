"""Sessions and API tokens end when they should (issue 15, item 3): at sign-out, at a new
password and at a deactivation, even for a copy taken before; tokens expire, are listed and
revoked, and one user may hold only so many. Over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from tests.security.conftest import bearer, csrf_of, sign_in_over_http
from tests.web.portal import Portal
from truthloop import people
from truthloop.storage.tables import ApiTokenRow, utcnow


def _copy(http: httpx.Client, live: str) -> httpx.Client:
    """Another client holding a copy of `http`'s cookies, as a thief would."""
    thief = httpx.Client(base_url=live, follow_redirects=False, timeout=30)
    thief.cookies.update(http.cookies)
    return thief


def test_a_cookie_copied_before_sign_out_is_refused_after_it(
    portal: Portal, http: httpx.Client, live: str
) -> None:
    assert sign_in_over_http(http, "wendy").status_code == 303
    with _copy(http, live) as thief:
        assert thief.get("/api/me").json()["username"] == "wendy"
        assert http.post("/logout", data={"csrf_token": csrf_of(http, "/my-jobs")}).status_code \
            == 303
        assert thief.get("/api/me").status_code == 401
        assert thief.get("/my-jobs").status_code == 303  # to the sign-in form


def test_a_new_password_ends_every_session_and_token(
    portal: Portal, http: httpx.Client, live: str
) -> None:
    assert sign_in_over_http(http, "wendy").status_code == 303
    token = bearer(portal, "wendy")
    with portal.project.session() as session:
        link = people.invite(session, people.get_user(session, "wendy"), base_url=live)
    path = link[link.index("/invitations/"):]
    with httpx.Client(base_url=live, follow_redirects=False, timeout=30) as other:
        reset = other.post(path, data={"password": "a brand new passphrase",
                                       "repeat": "a brand new passphrase",
                                       "csrf_token": csrf_of(other, path)})
        assert reset.status_code == 303
        assert other.get("/api/me").json()["username"] == "wendy"  # the new session works
    assert http.get("/api/me").status_code == 401
    assert http.get("/api/me", headers=token).status_code == 401


def test_a_token_expires(portal: Portal, http: httpx.Client) -> None:
    made = http.post("/api/me/tokens", json={"name": "ci", "expires_in_days": 1},
                     headers=bearer(portal, "wendy"))
    assert made.status_code == 201 and made.json()["expires_at"] is not None
    secret = {"Authorization": f"Bearer {made.json()['token']}"}
    assert http.get("/api/me", headers=secret).status_code == 200
    with portal.project.session() as session:
        session.execute(update(ApiTokenRow).where(ApiTokenRow.id == made.json()["id"])
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    refused = http.get("/api/me", headers=secret)
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    too_long = http.post("/api/me/tokens", json={"expires_in_days": 100_000}, headers=secret)
    assert too_long.status_code == 401  # judged by the token, which no longer works


def test_a_token_is_listed_without_its_secret_and_revoked(
    portal: Portal, http: httpx.Client
) -> None:
    own = bearer(portal, "walt")
    made = http.post("/api/me/tokens", json={"name": "laptop"}, headers=own).json()
    listed = http.get("/api/me/tokens", headers=own).json()
    assert [t["name"] for t in listed] == ["test", "laptop"]
    assert all("token" not in t and made["token"] not in str(t) for t in listed)
    assert http.delete(f"/api/me/tokens/{made['id']}", headers=own).status_code == 204
    gone = {"Authorization": f"Bearer {made['token']}"}
    assert http.get("/api/me", headers=gone).status_code == 401
    # Nobody revokes another's token by guessing its id.
    otto = http.delete(f"/api/me/tokens/{listed[0]['id']}", headers=bearer(portal, "otto"))
    assert otto.status_code == 404
    assert http.get("/api/me", headers=own).status_code == 200


def test_one_user_may_hold_only_so_many_tokens(portal: Portal, http: httpx.Client) -> None:
    own = bearer(portal, "otto")  # the first
    for n in range(people.MAX_API_TOKENS_PER_USER - 1):
        assert http.post("/api/me/tokens", json={"name": f"t{n}"}, headers=own).status_code == 201
    refused = http.post("/api/me/tokens", json={"name": "one more"}, headers=own)
    assert refused.status_code == 422
    assert "the most one user may hold: revoke one first" in refused.json()["detail"]


def test_the_portal_lists_and_revokes_a_users_tokens(portal: Portal, http: httpx.Client) -> None:
    assert sign_in_over_http(http, "wendy").status_code == 303
    csrf = csrf_of(http, "/tokens")
    made = http.post("/tokens", data={"name": "notebook", "expires_in_days": "7",
                                      "csrf_token": csrf})
    assert made.status_code == 201 and "shown only this once" in made.text
    secret = made.text.split('<code id="new-token">')[1].split("</code>")[0]
    assert http.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    page = http.get("/tokens").text
    assert "notebook" in page and secret not in page
    with portal.project.session() as session:
        [info] = people.list_api_tokens(session, people.get_user(session, "wendy"))
    revoked = http.post(f"/tokens/{info.id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert http.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_deactivating_a_user_ends_their_sessions_and_tokens_at_once(
    portal: Portal, http: httpx.Client, live: str
) -> None:
    assert sign_in_over_http(http, "wendy").status_code == 303
    token = bearer(portal, "wendy")
    admin = bearer(portal, "ada")
    assert http.post("/api/users/wendy/deactivate", headers=bearer(portal, "mia")) \
        .status_code == 403  # managers may not
    done = http.post("/api/users/wendy/deactivate", headers=admin)
    assert done.status_code == 200 and done.json()["active"] is False
    assert http.get("/api/me").status_code == 401
    assert http.get("/api/me", headers=token).status_code == 401
    with httpx.Client(base_url=live, follow_redirects=False, timeout=30) as again:
        assert sign_in_over_http(again, "wendy").status_code == 401
    assert http.post("/api/users/ada/deactivate", headers=admin).status_code == 403  # yourself
    assert http.post("/api/users/wendy/activate", headers=admin).json()["active"] is True
    with httpx.Client(base_url=live, follow_redirects=False, timeout=30) as again:
        assert sign_in_over_http(again, "wendy").status_code == 303
    assert http.get("/api/me", headers=token).status_code == 401  # old tokens stay revoked


def test_an_admin_deactivates_from_the_workers_page(portal: Portal, http: httpx.Client) -> None:
    token = bearer(portal, "otto")
    assert sign_in_over_http(http, "ada").status_code == 303
    page = http.get("/workers").text
    assert 'action="/users/otto/deactivate"' in page and 'action="/users/ada/' not in page
    done = http.post("/users/otto/deactivate", data={"csrf_token": csrf_of(http, "/workers")})
    assert done.status_code == 303
    assert http.get("/api/me", headers=token).status_code == 401
    assert "deactivated" in http.get("/workers").text
