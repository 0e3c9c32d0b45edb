"""People who sign in: their roles and argon2 password hashes."""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.core.names import name_problem
from truthloop.errors import AlreadyExists, InputError, InvalidName, NotFound, PermissionDenied
from truthloop.people.common_passwords import COMMON_PASSWORDS
from truthloop.people.sessions import end_access
from truthloop.storage.tables import UserRow

MIN_PASSWORD_LENGTH = 8
# Generous, for passphrases; the bound only keeps one request from hashing megabytes.
MAX_PASSWORD_LENGTH = 1024
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password
# and response times do not tell which names exist.
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    WORKER = "worker"


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InputError(
            f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None


def is_manager(user: UserRow) -> bool:
    """Managers and admins run jobs and see every dataset; workers see only their tasks."""
    return user.role in (Role.ADMIN, Role.MANAGER)


def check_may_add(actor: UserRow, role: Role) -> None:
    """Managers add workers; only admins add managers and admins."""
    if not is_manager(actor):
        raise PermissionDenied("only managers and admins may add users")
    if role is not Role.WORKER and actor.role != Role.ADMIN:
        raise PermissionDenied(f"only admins may add {role.value}s")


def normalise_password(password: str) -> str:
    """NFKC: the same password typed on two keyboards (composed é or e + accent, full-width
    digits) is the same password."""
    return unicodedata.normalize("NFKC", password)


def check_may_deactivate(actor: UserRow, user: UserRow) -> None:
    """Only admins switch a user's access, and never their own: an admin who locked themselves
    out might leave nobody to let them back in."""
    if actor.role != Role.ADMIN:
        raise PermissionDenied("only admins may deactivate or reactivate users")
    if actor.id == user.id:
        raise PermissionDenied("you may not deactivate yourself: ask another admin")


def check_password(password: str) -> None:
    """Refuses what is not a password: too short once normalised and stripped (eight spaces),
    control characters (eight NULs), far too long, or one of the commonest passwords."""
    normal = normalise_password(password)
    if any(unicodedata.category(c) == "Cc" for c in normal):
        raise InputError(
            "a password may not hold control characters (NUL, tab, line break): use letters,"
            " digits, spaces and punctuation"
        )
    if len(normal.strip()) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters, not counting spaces"
            " at either end"
        )
    if len(normal) > MAX_PASSWORD_LENGTH:
        raise InputError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    if normal.strip().casefold() in COMMON_PASSWORDS:
        raise InputError(
            "that password is one of the commonest, which guessers try first: choose another"
            " (a few unrelated words make a strong one)"
        )


def _check_email(email: str) -> str:
    email = email.strip()
    # A line break would let an address inject headers into the invitation mail.
    if "@" not in email or any(c in email for c in "\r\n<>,; "):
        raise InputError(f"email {email!r} is not a single plain address")
    return email


def add_user(
    session: Session,
    username: str,
    *,
    password: str | None,
    role: Role = Role.WORKER,
    email: str | None = None,
    display_name: str = "",
) -> UserRow:
    """A new user; without a password they can only sign in after accepting an invitation."""
    if problem := name_problem("user", username):
        raise InvalidName(problem)
    role = parse_role(role)
    if password is not None:
        check_password(password)
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise AlreadyExists(f"a user named {username!r} already exists")
    user = UserRow(
        username=username,
        email=_check_email(email) if email else None,
        display_name=display_name.strip(),
        password_hash=_hasher.hash(normalise_password(password)) if password is not None else None,
        role=role.value,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> UserRow:
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def user_by_id(session: Session, user_id: int) -> UserRow | None:
    user = session.get(UserRow, user_id)
    return user if user is not None and user.active else None


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def set_password(session: Session, user: UserRow, password: str) -> None:
    """A new password; it ends every session of the user and revokes their API tokens, since
    a new password often answers a stolen one."""
    check_password(password)
    user.password_hash = _hasher.hash(normalise_password(password))
    end_access(session, user.id)
    session.flush()


def deactivate_user(session: Session, user: UserRow) -> None:
    """The user can no longer sign in, and every session and API token they hold ends now."""
    user.active = False
    end_access(session, user.id)
    session.flush()


def activate_user(session: Session, user: UserRow) -> None:
    """A deactivated user may sign in again (their old sessions and tokens stay ended)."""
    user.active = True
    session.flush()


def _verify(stored: str, password: str) -> bool:
    normal = normalise_password(password)
    # Hashes made before passwords were normalised hold the password as typed.
    for candidate in (normal,) if normal == password else (normal, password):
        try:
            _hasher.verify(stored, candidate)
        except (VerificationError, InvalidHashError):
            continue
        return True
    return False


def authenticate(session: Session, username: str, password: str) -> UserRow | None:
    """The active user with this name and password, or None (never says which was wrong)."""
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    stored = user.password_hash if user is not None and user.active else None
    if not _verify(stored or _DUMMY_HASH, password) or user is None or stored is None:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(normalise_password(password))
        session.flush()
    return user
