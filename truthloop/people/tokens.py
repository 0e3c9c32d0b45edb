"""API tokens for scripts and one-time invitation links: random secrets of which only a
SHA-256 is stored, so a copy of the database gives nobody a way in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from truthloop.errors import InputError, NotFound
from truthloop.people.mail import Mailer
from truthloop.people.sessions import secret_digest
from truthloop.people.users import set_password
from truthloop.storage.db import Database
from truthloop.storage.tables import ApiTokenRow, InvitationRow, UserRow, utcnow

TOKEN_PREFIX = "tl_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Live tokens one user may hold at once: enough for every script and machine a person runs, and
# a bound on what one stolen account can mint before anyone notices.
MAX_API_TOKENS_PER_USER = 20
# The longest expiry one may ask for; no expiry at all is asked for with None.
MAX_TOKEN_DAYS = 3650


def _live(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Tokens neither revoked nor expired at `now`."""
    return (
        ApiTokenRow.revoked.is_(False),
        or_(ApiTokenRow.expires_at.is_(None), ApiTokenRow.expires_at > now),
    )


def create_api_token(
    session: Session, user: UserRow, name: str, *, expires_in_days: int | None = None
) -> str:
    """A new token for `user`, valid `expires_in_days` days (None: until revoked); it is
    returned once and cannot be read back later."""
    return issue_api_token(session, user, name, expires_in_days=expires_in_days).secret


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What may be shown of a token: never its secret."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, row: ApiTokenRow) -> TokenInfo:
        return cls(row.id, row.name, row.created_at, row.last_used_at, row.expires_at)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    secret: str
    info: TokenInfo


def issue_api_token(
    session: Session, user: UserRow, name: str, *, expires_in_days: int | None = None
) -> IssuedToken:
    """Like `create_api_token`, with what may be shown of the new token beside its secret."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise InputError(f"a token expires in 1 to {MAX_TOKEN_DAYS} days, not {expires_in_days}")
    now = utcnow()
    live = session.scalar(
        select(func.count()).select_from(ApiTokenRow).where(
            ApiTokenRow.user_id == user.id, *_live(now)
        )
    )
    if live is not None and live >= MAX_API_TOKENS_PER_USER:
        raise InputError(
            f"{user.username} already holds {live} live API tokens, the most one user may hold:"
            " revoke one first (`truthloop user revoke-token`, DELETE /api/me/tokens/ID, or the"
            " portal's Tokens page)"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = None if expires_in_days is None else now + timedelta(days=expires_in_days)
    row = ApiTokenRow(
        user_id=user.id, name=name, token_hash=secret_digest(token), created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return IssuedToken(token, TokenInfo.of(row))


def list_api_tokens(session: Session, user: UserRow) -> list[TokenInfo]:
    """The user's live tokens (neither revoked nor expired), oldest first."""
    rows = session.scalars(
        select(ApiTokenRow)
        .where(ApiTokenRow.user_id == user.id, *_live(utcnow()))
        .order_by(ApiTokenRow.id)
    )
    return [TokenInfo.of(row) for row in rows]


def revoke_api_token(session: Session, user: UserRow, token_id: int) -> None:
    """Revoke one of the user's tokens by its id (from `list_api_tokens`)."""
    row = session.get(ApiTokenRow, token_id)
    if row is None or row.user_id != user.id or row.revoked:
        raise NotFound(
            f"{user.username} holds no live API token {token_id}: list them to see their ids"
        )
    row.revoked = True
    session.flush()


# Built once: every API request authenticates with it.
_TOKEN_USER = (
    select(ApiTokenRow, UserRow)
    .join(UserRow, UserRow.id == ApiTokenRow.user_id)
    .where(
        ApiTokenRow.token_hash == bindparam("token_hash"),
        ApiTokenRow.revoked.is_(False),
        or_(ApiTokenRow.expires_at.is_(None), ApiTokenRow.expires_at > bindparam("now")),
        UserRow.active.is_(True),
    )
)


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """The active user a token belongs to, and whether the token's use is due to be recorded."""

    user: UserRow
    use_due: bool


def _find(session: Session, token: str) -> tuple[ApiTokenRow, UserRow] | None:
    params = {"token_hash": secret_digest(token), "now": utcnow()}
    found = session.execute(_TOKEN_USER, params).first()
    return None if found is None else (found[0], found[1])


def _use_due(last_used_at: datetime | None, now: datetime) -> bool:
    # Recorded to the minute: a write on every request would compete with the labeling work.
    return last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION


def user_for_token(session: Session, token: str) -> UserRow | None:
    """The active user a token belongs to, or None for an unknown, revoked or expired token; the
    use is recorded in `session`."""
    found = _find(session, token)
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if _use_due(row.last_used_at, now):
        row.last_used_at = now
    return user


def token_owner(session: Session, token: str) -> TokenOwner | None:
    """Like `user_for_token`, but it only reads: the portal records a due use with
    `record_token_use` after it has answered, so that no request waits on that write."""
    found = _find(session, token)
    if found is None:
        return None
    row, user = found
    return TokenOwner(user, _use_due(row.last_used_at, utcnow()))


def record_token_use(db: Database, token: str) -> None:
    """Record that `token` was used now, in a write transaction of its own."""
    with db.session(immediate=True) as session:
        session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.token_hash == secret_digest(token))
            .values(last_used_at=utcnow())
        )


def invite(
    session: Session,
    user: UserRow,
    *,
    base_url: str,
    ttl_hours: float = 72,
    mailer: Mailer | None = None,
) -> str:
    """A one-time link where `user` sets a password; mailed to them when a mailer is given."""
    secret = secrets.token_urlsafe(32)
    session.add(
        InvitationRow(
            user_id=user.id,
            token_hash=secret_digest(secret),
            expires_at=utcnow() + timedelta(hours=ttl_hours),
        )
    )
    session.flush()
    link = f"{base_url.rstrip('/')}/invitations/{secret}"
    if mailer is not None and user.email:
        mailer.send(
            user.email,
            "Your truthloop invitation",
            f"Hello {user.display_name or user.username},\n\n"
            f"you have been invited to label images with truthloop as {user.username!r}.\n"
            f"Choose your password here (the link works once, for {ttl_hours:g} hours):\n\n"
            f"{link}\n",
        )
    return link


def _open_invitation(session: Session, secret: str) -> InvitationRow:
    row = session.scalar(
        select(InvitationRow).where(InvitationRow.token_hash == secret_digest(secret))
    )
    if row is None:
        raise InputError("this invitation link is not valid: ask for a new one")
    if row.used_at is not None:
        raise InputError("this invitation link was already used: sign in, or ask for a new one")
    if row.expires_at < utcnow():
        raise InputError("this invitation link has expired: ask for a new one")
    return row


def invited_user(session: Session, secret: str) -> UserRow:
    """Whom a still-valid invitation is for (InputError when it is not valid)."""
    return session.get_one(UserRow, _open_invitation(session, secret).user_id)


def accept_invitation(session: Session, secret: str, password: str) -> UserRow:
    """Set the invited user's password and use the link up."""
    row = _open_invitation(session, secret)
    user = session.get_one(UserRow, row.user_id)
    set_password(session, user, password)
    row.used_at = utcnow()
    session.flush()
    return user
