"""Signing in (issue 15, items 4, 5 and 7): guessing is slowed without locking out the right
password, the counts are shared by every portal process, invitation links ignore the Host
header, and what is not a password is refused. Over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import SignInClock, bearer, csrf_of
from tests.web.portal import PASSWORD, Portal
from truthloop import people
from truthloop.web.app import create_app

ATTACKER, OWNER = "203.0.113.9", "198.51.100.7"


def _try(http: httpx.Client, password: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return http.post("/login", headers=headers,
                     data={"username": "wendy", "password": password, "csrf_token": csrf_of(http)})


def test_the_right_password_gets_in_while_an_attacker_is_held(
    portal: Portal, http: httpx.Client, sign_in_clock: SignInClock
) -> None:
    portal.project.settings.trusted_proxies = ("127.0.0.1/32",)  # the portal is behind a proxy
    for _ in range(3):
        assert _try(http, "guess", ATTACKER).status_code == 401
    held = _try(http, "guess", ATTACKER)
    assert held.status_code == 429 and held.headers["retry-after"] == "1"
    started = time.monotonic()
    assert _try(http, PASSWORD, OWNER).status_code == 303  # elsewhere: not held at all
    assert time.monotonic() - started < 5


def test_the_owner_at_the_attackers_address_waits_seconds_not_minutes(
    portal: Portal, http: httpx.Client, sign_in_clock: SignInClock
) -> None:
    for _ in range(3):
        assert _try(http, "guess").status_code == 401
    held = _try(http, PASSWORD)
    assert held.status_code == 429 and "try again in 1 second" in held.text
    sign_in_clock.advance(0.9)
    assert _try(http, PASSWORD).status_code == 429
    sign_in_clock.advance(0.2)
    assert _try(http, PASSWORD).status_code == 303


def test_an_untrusted_peer_cannot_pick_its_address(
    portal: Portal, http: httpx.Client, sign_in_clock: SignInClock
) -> None:
    assert portal.project.settings.trusted_proxies == ()
    for n in range(3):
        assert _try(http, "guess", f"192.0.2.{n}").status_code == 401
    # A new X-Forwarded-For from the same socket is the same address: still held.
    assert _try(http, "guess", "192.0.2.99").status_code == 429


def test_every_portal_process_sees_the_same_counts(
    portal: Portal, sign_in_clock: SignInClock
) -> None:
    with TestClient(create_app(portal.project)) as one, \
            TestClient(create_app(portal.project)) as two:
        for _ in range(3):
            token = csrf_of(one)
            wrong = one.post("/login", data={"username": "wendy", "password": "guess",
                                             "csrf_token": token})
            assert wrong.status_code == 401
        token = csrf_of(two)
        held = two.post("/login", data={"username": "wendy", "password": PASSWORD,
                                        "csrf_token": token})
        assert held.status_code == 429


def test_the_host_header_never_makes_an_invitation_link(
    portal: Portal, http: httpx.Client
) -> None:
    evil = {**bearer(portal, "ada"), "Host": "evil.example"}
    made = http.post("/api/users", json={"username": "ivy"}, headers=evil)
    assert made.status_code == 201
    assert made.json()["invitation"].startswith("http://127.0.0.1:8000/invitations/")
    portal.project.settings.base_url = "https://labels.example"
    again = http.post("/api/users", json={"username": "ian"}, headers=evil)
    assert again.json()["invitation"].startswith("https://labels.example/invitations/")


def test_the_managers_form_ignores_the_host_header_too(
    portal: Portal, http: httpx.Client
) -> None:
    from tests.security.conftest import sign_in_over_http

    assert sign_in_over_http(http, "mia").status_code == 303
    page = http.post("/users", headers={"Host": "evil.example"},
                     data={"username": "ivy", "csrf_token": csrf_of(http, "/workers")})
    assert page.status_code == 200
    assert "evil.example" not in page.text and "http://127.0.0.1:8000/invitations/" in page.text


@pytest.mark.parametrize("password", [" " * 8, "\x00" * 8, "password"])
def test_what_is_not_a_password_is_refused(
    portal: Portal, http: httpx.Client, live: str, password: str
) -> None:
    made = http.post("/api/users", json={"username": "ivy", "password": password},
                     headers=bearer(portal, "ada"))
    assert made.status_code == 422
    with portal.project.session() as session:
        link = people.invite(session, people.get_user(session, "walt"), base_url=live)
    path = link[link.index("/invitations/"):]
    chosen = http.post(path, data={"password": password, "repeat": password,
                                   "csrf_token": csrf_of(http, path)})
    assert chosen.status_code == 422
    with portal.project.session() as session:
        assert people.authenticate(session, "walt", PASSWORD) is not None  # unchanged
