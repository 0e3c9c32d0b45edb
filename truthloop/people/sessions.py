"""Sign-in sessions kept on the server, so that they can be ended.

The browser's cookie (signed, see `truthloop.web.auth`) carries a random secret; the database
keeps only its SHA-256 and when it expires. A session ends when its row goes: at sign-out (that
one), and at a new password or a deactivation (every session of the user, and their API tokens
with them — `end_access`). A copy of the cookie taken before then opens nothing after.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from truthloop.storage.tables import ApiTokenRow, SignInSessionRow, UserRow, utcnow

SESSION_LIFETIME = timedelta(days=14)


def secret_digest(secret: str) -> str:
    """What is stored of a secret (a session's, an API token's, an invitation's): its SHA-256,
    so that a copy of the database lets nobody in."""
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(session: Session, user: UserRow) -> str:
    """A new session for `user`; the returned secret goes in the cookie and nowhere else."""
    now = utcnow()
    # Housekeeping here, where a write happens anyway: expired sessions are only dead weight.
    session.execute(delete(SignInSessionRow).where(SignInSessionRow.expires_at < now))
    secret = secrets.token_urlsafe(32)
    session.add(
        SignInSessionRow(
            user_id=user.id, secret_hash=secret_digest(secret), created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    return secret


# Built once: every page and every cookie-authenticated API request reads it, in one query.
_SESSION_USER = (
    select(UserRow)
    .join(SignInSessionRow, SignInSessionRow.user_id == UserRow.id)
    .where(
        SignInSessionRow.secret_hash == bindparam("secret_hash"),
        SignInSessionRow.expires_at > bindparam("now"),
        UserRow.active.is_(True),
    )
)


def session_user(session: Session, secret: str) -> UserRow | None:
    """The active user of a live session, or None when it ended, expired or never was."""
    return session.scalar(_SESSION_USER, {"secret_hash": secret_digest(secret), "now": utcnow()})


def end_session(session: Session, secret: str) -> None:
    ended = SignInSessionRow.secret_hash == secret_digest(secret)
    session.execute(delete(SignInSessionRow).where(ended))


def end_access(session: Session, user_id: int) -> None:
    """End every session of a user and revoke every API token they hold: what a new password
    or a deactivation must do, since either may answer a stolen password, cookie or token."""
    session.execute(delete(SignInSessionRow).where(SignInSessionRow.user_id == user_id))
    session.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.user_id == user_id, ApiTokenRow.revoked.is_(False))
        .values(revoked=True)
    )
    session.flush()
