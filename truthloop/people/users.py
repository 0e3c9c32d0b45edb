"""People who sign in: their roles and argon2 password hashes."""

from __future__ import annotations

from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.core.names import name_problem
from truthloop.errors import AlreadyExists, InputError, InvalidName, NotFound, PermissionDenied
from truthloop.storage.tables import UserRow

MIN_PASSWORD_LENGTH = 8
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


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


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
        password_hash=_hasher.hash(password) if password is not None else None,
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
    check_password(password)
    user.password_hash = _hasher.hash(password)
    session.flush()


def authenticate(session: Session, username: str, password: str) -> UserRow | None:
    """The active user with this name and password, or None (never says which was wrong)."""
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    stored = user.password_hash if user is not None and user.active else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or stored is None:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
        session.flush()
    return user
