"""Reading the API token from `Authorization: Bearer`: a malformed header is a token that is not
valid (401), never a reason to fall back on the session cookie beside it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from tests.web.conftest import sign_in
from tests.web.portal import Portal
from truthloop.web.auth import bearer_token


def _request(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("Bearer tl_abc", "tl_abc"),
        ("bearer   tl_abc  ", "tl_abc"),
        ("BEARER tl_abc", "tl_abc"),
        ("Bearer", ""),
        ("Bearer ", ""),
        ("Basic dXNlcjpwYXNz", ""),
        ("", ""),
        (" Bearer tl_abc", ""),
    ],
)
def test_the_token_is_read_from_the_header(header: str | None, token: str | None) -> None:
    assert bearer_token(_request(header)) == token


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer tl_nope"])
def test_a_bad_header_beside_a_session_cookie_is_refused(
    portal: Portal, client: TestClient, header: str
) -> None:
    sign_in(client, "wendy")
    assert client.get("/api/me").status_code == 200  # the cookie alone is enough
    refused = client.get("/api/me", headers={"Authorization": header})
    assert refused.status_code == 401 and "not valid" in refused.json()["detail"]
