"""Sign-in sessions in signed cookies, CSRF tokens, and API tokens for scripts.

The session cookie is signed with the project's secret key (itsdangerous, through Starlette's
SessionMiddleware) and holds only the session's secret and the CSRF token; the session itself is
a row on the server (`truthloop.people.sessions`), so signing out, a new password or a
deactivation ends it even for a copy of the cookie. Every state-changing request
made with that cookie must echo the token, in the `csrf_token` form field or the `X-CSRF-Token`
header, which a page on another site cannot read. Requests that authenticate with
`Authorization: Bearer` carry no cookie authority and need no CSRF token.
"""

from __future__ import annotations

import hmac
import os
import secrets

from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session
from starlette.requests import Request

from truthloop.errors import CsrfRejected
from truthloop.people.sessions import SESSION_LIFETIME, end_session, start_session
from truthloop.storage.project import Project
from truthloop.storage.tables import UserRow

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "truthloop_session"
SESSION_MAX_AGE_S = int(SESSION_LIFETIME.total_seconds())


def secret_key(project: Project) -> str:
    """TRUTHLOOP_SECRET_KEY, else a random key kept in the project home so sessions survive a
    restart."""
    if project.settings.secret_key:
        return project.settings.secret_key
    path = project.home / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def sign_in(request: Request, session: Session, user: UserRow) -> None:
    # A fresh session (and CSRF token) at sign-in, so a token planted before cannot be reused.
    request.session.clear()
    request.session["sid"] = start_session(session, user)
    request.session["csrf"] = secrets.token_urlsafe(32)


def sign_out(request: Request, session: Session) -> None:
    if secret := session_secret(request):
        end_session(session, secret)
    request.session.clear()


def session_secret(request: Request) -> str | None:
    secret = request.session.get("sid")
    return secret if isinstance(secret, str) and secret else None


def bearer_token(request: Request) -> str | None:
    """The API token when the request sends `Authorization: Bearer ...`, '' when the header is
    there but malformed, None when there is none."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, token = get_authorization_scheme_param(header)
    return token if scheme.lower() == "bearer" else ""


async def csrf_protect(request: Request) -> None:
    """Refuses a state-changing, cookie-authenticated request that lacks the session's token."""
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise CsrfRejected
