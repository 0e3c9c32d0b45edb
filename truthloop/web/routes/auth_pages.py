"""Sign in, sign out, and accept an invitation (choose a password)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from truthloop import people
from truthloop.errors import InputError
from truthloop.people.throttle import SignInThrottle
from truthloop.web.auth import sign_in, sign_out
from truthloop.web.deps import OptionalUser, SessionDep
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


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    name, address = username.strip(), request.client.host if request.client else None
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    wait = throttle.wait_s(name, address)
    if wait > 0:
        response = render(
            request, "login.html", None, status_code=429, next=_local(next), username=username,
            error="Too many failed sign-ins: try again in"
            f" {math.ceil(wait / 60)} minute{'s' if wait > 60 else ''}.",
        )
        response.headers["retry-after"] = str(math.ceil(wait))
        return response
    user = people.authenticate(session, name, password)
    if user is None:
        throttle.failed(name, address)
        return render(
            request, "login.html", None, status_code=401, next=_local(next),
            error="That user name and password do not match.", username=username,
        )
    throttle.succeeded(name)
    sign_in(request, user)
    return RedirectResponse(_local(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    sign_out(request)
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
    sign_in(request, user)
    return RedirectResponse("/", status_code=303)
