"""Access pages: a signed-in user's API tokens (make, list, revoke), and an admin's switch that
deactivates or reactivates a user. Forms post here; the people service does the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from truthloop import people
from truthloop.storage.tables import UserRow
from truthloop.web.deps import CurrentUser, RequireManager, SessionDep
from truthloop.web.templating import render

router = APIRouter(include_in_schema=False)


def _tokens_page(
    request: Request, session: SessionDep, user: UserRow, *, created: str | None = None,
    status_code: int = 200, error: str | None = None,
) -> Response:
    return render(
        request, "tokens.html", user, status_code=status_code,
        tokens=people.list_api_tokens(session, user), created=created, error=error,
        max_tokens=people.MAX_API_TOKENS_PER_USER, max_days=people.MAX_TOKEN_DAYS,
    )


@router.get("/tokens")
def tokens(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    return _tokens_page(request, session, user)


@router.post("/tokens")
def create_token(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    name: Annotated[str, Form(min_length=1, max_length=128)] = "portal",
    expires_in_days: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    days = int(expires_in_days) if expires_in_days.strip().isdigit() else None
    if expires_in_days.strip() and days is None:
        return _tokens_page(request, session, user, status_code=422,
                            error="Expires in: a whole number of days, or empty for never.")
    issued = people.issue_api_token(session, user, name.strip(), expires_in_days=days)
    # Shown this once, on this page, and never again: only its SHA-256 is stored.
    return _tokens_page(request, session, user, created=issued.secret, status_code=201)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(session: SessionDep, user: CurrentUser, token_id: int) -> Response:
    people.revoke_api_token(session, user, token_id)
    return RedirectResponse("/tokens", status_code=303)


def _switch(session: SessionDep, admin: UserRow, username: str, active: bool) -> Response:
    user = people.get_user(session, username)
    people.check_may_deactivate(admin, user)
    (people.activate_user if active else people.deactivate_user)(session, user)
    return RedirectResponse("/workers", status_code=303)


@router.post("/users/{username}/deactivate")
def deactivate_user(session: SessionDep, admin: RequireManager, username: str) -> Response:
    return _switch(session, admin, username, active=False)


@router.post("/users/{username}/activate")
def activate_user(session: SessionDep, admin: RequireManager, username: str) -> Response:
    return _switch(session, admin, username, active=True)
