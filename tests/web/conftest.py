"""Fixtures for the portal: a seeded project, its app under TestClient, and for browser tests
the app under uvicorn on loopback with one chromium for the whole session."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.web.portal import PASSWORD, Portal, seed
from truthloop.storage.project import Project
from truthloop.web.app import create_app
from truthloop.web.routes import auth_pages

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture
def portal(sqlite_project: Project) -> Portal:
    return seed(sqlite_project)


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(create_app(portal.project)) as c:
        yield c


def page_csrf(client: TestClient, path: str) -> str:
    """The CSRF token a page of the portal carries in its `csrf-token` meta tag."""
    text = client.get(path).text
    marker = 'name="csrf-token" content="'
    start = text.index(marker) + len(marker)
    return text[start : text.index('"', start)]


def sign_in(client: TestClient, username: str) -> str:
    """Signs `client` in through the login form; returns the new session's CSRF token."""
    token = page_csrf(client, "/login")
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return page_csrf(client, "/my-jobs")


@pytest.fixture
def live(portal: Portal) -> Iterator[str]:
    """The portal served by uvicorn on a free loopback port; yields its base URL."""
    # Port 0: uvicorn binds a free port itself, which no other pytest-xdist worker can take
    # between the choosing and the binding.
    config = uvicorn.Config(
        create_app(portal.project), host="127.0.0.1", port=0, log_level="warning",
        lifespan="off", proxy_headers=False,  # as `truthloop serve` runs it
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the portal did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/setup --test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live: str):
    context = browser.new_context(base_url=live, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    # Waits, not bounds on speed: a sign-in hashes a password, and on two loaded cores (two
    # test workers, one training) a page can take seconds to come.
    page.set_default_timeout(15000)
    yield page
    context.close()


class SignInClock:
    """The sign-in throttle's clock, stopped: a test moves it on instead of sleeping, so a
    one-second backoff is judged the same on a loaded machine as on an idle one."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def sign_in_clock(monkeypatch: pytest.MonkeyPatch) -> SignInClock:
    clock = SignInClock()
    monkeypatch.setattr(auth_pages, "utcnow", clock)
    return clock
