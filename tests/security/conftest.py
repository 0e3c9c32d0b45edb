"""The security probes: the seeded portal on SQLite *and* PostgreSQL, served by uvicorn on
loopback and spoken to over real HTTP (httpx), as the probe that found these defects spoke to it.

`portal` here overrides the web suite's SQLite-only one, so `live`, `client`, `browser` and
`page` from `tests.web.conftest` run on both databases in this folder.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.datasets.conftest import pets  # noqa: F401  (fixture: images and a manifest)
from tests.web.conftest import (  # noqa: F401  (fixtures)
    SignInClock,
    browser,
    client,
    live,
    page,
    sign_in_clock,
)
from tests.web.portal import PASSWORD, Portal, seed
from truthloop.storage.project import Project


@pytest.fixture
def portal(project: Project) -> Portal:
    """The web suite's seeded project, on the database `project` is parametrised over."""
    return seed(project)


@pytest.fixture
def http(live: str) -> Iterator[httpx.Client]:  # noqa: F811  (the fixture)
    """An HTTP client of the live portal, signed in as nobody."""
    with httpx.Client(base_url=live, follow_redirects=False, timeout=30) as c:
        yield c


def csrf_of(http: httpx.Client, path: str = "/login") -> str:
    """The CSRF token in the `csrf-token` meta tag of a portal page."""
    text = http.get(path).text
    marker = 'name="csrf-token" content="'
    start = text.index(marker) + len(marker)
    return text[start : text.index('"', start)]


def sign_in_over_http(
    http: httpx.Client, username: str, password: str = PASSWORD
) -> httpx.Response:
    """Posts the sign-in form as a browser would; the answer is 303 when it succeeded."""
    return http.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(http)},
    )


def bearer(portal: Portal, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.token(username)}"}
