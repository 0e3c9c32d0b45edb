"""Ending access: sessions on the server, token expiry, list, revoke and cap, deactivation,
and what a password must be."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from truthloop import people
from truthloop.errors import InputError, NotFound, PermissionDenied
from truthloop.storage.project import Project
from truthloop.storage.tables import ApiTokenRow, SignInSessionRow, UserRow, utcnow

PASSWORD = "correct horse battery"


def _user(project: Project, name: str = "ada", role: people.Role = people.Role.WORKER) -> int:
    with project.session() as session:
        return people.add_user(session, name, password=PASSWORD, role=role).id


def test_a_session_ends_at_sign_out_and_at_a_new_password(project: Project) -> None:
    uid = _user(project)
    with project.session() as session:
        user = people.user_by_id(session, uid)
        assert user is not None
        first, second = people.start_session(session, user), people.start_session(session, user)
    with project.session() as session:
        assert people.session_user(session, first) is not None
        people.end_session(session, first)
    with project.session() as session:
        assert people.session_user(session, first) is None
        assert people.session_user(session, second) is not None  # only that one ended
        token = people.create_api_token(session, session.get_one(UserRow, uid), "t")
        people.set_password(session, session.get_one(UserRow, uid), "a new passphrase")
    with project.session() as session:
        assert people.session_user(session, second) is None
        assert people.user_for_token(session, token) is None


def test_an_expired_session_opens_nothing(project: Project) -> None:
    uid = _user(project)
    with project.session() as session:
        secret = people.start_session(session, session.get_one(UserRow, uid))
        session.execute(update(SignInSessionRow).values(expires_at=utcnow() - timedelta(1)))
    with project.session() as session:
        assert people.session_user(session, secret) is None


def test_tokens_expire_list_revoke_and_have_a_cap(project: Project) -> None:
    uid = _user(project)
    with project.session() as session:
        user = session.get_one(UserRow, uid)
        short = people.issue_api_token(session, user, "short", expires_in_days=1)
        forever = people.issue_api_token(session, user, "forever")
        assert short.info.expires_at is not None and forever.info.expires_at is None
        assert [t.name for t in people.list_api_tokens(session, user)] == ["short", "forever"]
        with pytest.raises(InputError, match="1 to 3650 days"):
            people.create_api_token(session, user, "x", expires_in_days=0)
    with project.session() as session:
        session.execute(update(ApiTokenRow).where(ApiTokenRow.id == short.info.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    with project.session() as session:
        user = session.get_one(UserRow, uid)
        assert people.user_for_token(session, short.secret) is None
        assert [t.name for t in people.list_api_tokens(session, user)] == ["forever"]
        people.revoke_api_token(session, user, forever.info.id)
        assert people.user_for_token(session, forever.secret) is None
        with pytest.raises(NotFound, match="no live API token"):
            people.revoke_api_token(session, user, forever.info.id)
        for n in range(people.MAX_API_TOKENS_PER_USER):
            people.create_api_token(session, user, f"t{n}")
        with pytest.raises(InputError, match="revoke one first"):
            people.create_api_token(session, user, "one too many")


def test_a_deactivated_user_has_no_session_token_or_sign_in(project: Project) -> None:
    uid = _user(project)
    with project.session() as session:
        user = session.get_one(UserRow, uid)
        secret, token = people.start_session(session, user), people.create_api_token(
            session, user, "t")
        people.deactivate_user(session, user)
    with project.session() as session:
        assert people.session_user(session, secret) is None
        assert people.user_for_token(session, token) is None
        assert people.authenticate(session, "ada", PASSWORD) is None
        people.activate_user(session, people.get_user(session, "ada"))
    with project.session() as session:
        assert people.authenticate(session, "ada", PASSWORD) is not None
        assert people.user_for_token(session, token) is None  # revoked for good


def test_only_an_admin_deactivates_and_never_themselves(sqlite_project: Project) -> None:
    admin, manager, worker = (_user(sqlite_project, n, r) for n, r in (
        ("ada", people.Role.ADMIN), ("mia", people.Role.MANAGER), ("wendy", people.Role.WORKER)))
    with sqlite_project.session() as session:
        a, m, w = (session.get_one(UserRow, i) for i in (admin, manager, worker))
        people.check_may_deactivate(a, w)
        with pytest.raises(PermissionDenied, match="only admins"):
            people.check_may_deactivate(m, w)
        with pytest.raises(PermissionDenied, match="yourself"):
            people.check_may_deactivate(a, a)


@pytest.mark.parametrize(
    ("password", "words"),
    [
        (" " * 8, "at least 8 characters"),
        ("\x00" * 8, "control characters"),
        ("   short  ", "at least 8 characters"),
        ("password", "commonest"),
        ("PassWord1", "commonest"),
        ("ｐａｓｓｗｏｒｄ", "commonest"),  # full-width letters are the same password
        ("x" * (people.MAX_PASSWORD_LENGTH + 1), "at most 1024"),
        ("tab\tinside here", "control characters"),
    ],
)
def test_what_is_not_a_password_is_refused(password: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        people.check_password(password)


def test_a_long_passphrase_and_its_other_spelling_both_sign_in(sqlite_project: Project) -> None:
    phrase = "un café au lait, s'il vous plaît " * 20  # 660 characters
    composed = phrase.replace("é", "e\u0301")  # the same words from another keyboard
    with sqlite_project.session() as session:
        people.add_user(session, "cafe", password=phrase)
    with sqlite_project.session() as session:
        assert people.authenticate(session, "cafe", composed) is not None
