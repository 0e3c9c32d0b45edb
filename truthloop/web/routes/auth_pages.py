"""Sign in, sign out, and accept an invitation (choose a password)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from truthloop import people
from truthloop.errors import InputError
from truthloop.people import sign_in_attempts, throttle
from truthloop.storage.tables import utcnow
from truthloop.web.addresses import client_address
from truthloop.web.auth import sign_in, sign_out
from truthloop.web.deps import OptionalUser, ProjectDep, SessionDep
from truthloop.web.templating import render

router = APIRouter(include_in_schema=False)


def _local(target: str | None) -> str:
    """Only a path on this site may be a redirect target, never another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(_local(next), status_code=303)
    return render(request, "login.html", None, next=_local(next), error=None, username="")


def _wait_words(wait_s: float) -> str:
    if wait_s <= 90:
        seconds = math.ceil(wait_s)
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(wait_s / 60)
    return f"{minutes} minutes"


@router.post("/login")
def login(
    request: Request,
    project: ProjectDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    name, now = username.strip(), utcnow()
    address = client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"), project.settings.trusted_networks,
    )
    # Judged before any password is hashed, so a flood of guesses costs the server little.
    wait = throttle.wait_s(sign_in_attempts.attempts_for(session, name, address, now), now)
    if wait > 0:
        response = render(
            request, "login.html", None, status_code=429, next=_local(next), username=username,
            error=f"Too many failed sign-ins: try again in {_wait_words(wait)}.",
        )
        response.headers["retry-after"] = str(math.ceil(wait))
        return response
    user = people.authenticate(session, name, password)
    if user is None:
        sign_in_attempts.record_failure(session, name, address, now)
        return render(
            request, "login.html", None, status_code=401, next=_local(next),
            error="That user name and password do not match.", username=username,
        )
    sign_in_attempts.record_success(session, name, address, now)
    sign_in(request, session, user)
    return RedirectResponse(_local(next), status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    sign_out(request, session)
    return RedirectResponse("/login", status_code=303)


@router.get("/invitations/{secret}")
def invitation_form(request: Request, session: SessionDep, secret: str) -> Response:
    invited = people.invited_user(session, secret)
    return render(request, "invitation.html", None, invited=invited, secret=secret, error=None)


@router.post("/invitations/{secret}")
def accept_invitation(
    request: Request,
    session: SessionDep,
    secret: str,
    password: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
) -> Response:
    invited = people.invited_user(session, secret)
    try:
        if password != repeat:
            raise InputError("the two passwords differ")
        user = people.accept_invitation(session, secret, password)
    except InputError as error:
        return render(
            request, "invitation.html", None, status_code=422, invited=invited, secret=secret,
            error=error.message,
        )
    sign_in(request, session, user)
    return RedirectResponse("/", status_code=303)
