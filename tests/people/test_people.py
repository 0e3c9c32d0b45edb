"""Users, roles, passwords, teams, API tokens and invitation links, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from truthloop import people
from truthloop.errors import AlreadyExists, InputError, InvalidName, NotFound, PermissionDenied
from truthloop.storage.project import Project
from truthloop.storage.tables import ApiTokenRow, InvitationRow, UserRow


def test_a_user_signs_in_with_the_password_only(project: Project) -> None:
    with project.session() as session:
        user = people.add_user(session, "wendy", password="long enough", email="w@example.org")
        assert user.password_hash and "long enough" not in user.password_hash
        assert user.password_hash.startswith("$argon2id$")
        assert user.role == people.Role.WORKER
    with project.session() as session:
        assert people.authenticate(session, "wendy", "long enough") is not None
        assert people.authenticate(session, "wendy", "long enougH") is None
        assert people.authenticate(session, "nobody", "long enough") is None


def test_an_inactive_or_invited_user_cannot_sign_in(project: Project) -> None:
    with project.session() as session:
        people.add_user(session, "ivy", password=None)
        people.add_user(session, "gone", password="long enough").active = False
    with project.session() as session:
        assert people.authenticate(session, "ivy", "") is None
        assert people.authenticate(session, "gone", "long enough") is None


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"username": "../root"}, InvalidName, "user name '../root' is not allowed"),
        ({"username": "a b"}, InvalidName, "is not allowed"),
        ({"password": "short"}, InputError, "at least 8 characters"),
        ({"role": "boss"}, InputError, "role 'boss' is not one of admin, manager, worker"),
        ({"email": "a@b.c\r\nBcc: x@y.z"}, InputError, "is not a single plain address"),
        ({"email": "nobody"}, InputError, "is not a single plain address"),
    ],
)
def test_bad_user_input_is_refused_and_nothing_stored(
    sqlite_project: Project, kwargs: dict[str, str], error: type[Exception], words: str
) -> None:
    args = {"username": "ok", "password": "long enough", **kwargs}
    username = args.pop("username")
    with pytest.raises(error, match=words.replace("(", r"\(")), sqlite_project.session() as s:
        people.add_user(s, username, **args)  # type: ignore[arg-type]
    with sqlite_project.session() as session:
        assert people.list_users(session) == []


def test_names_are_unique_and_lookups_say_what_is_missing(project: Project) -> None:
    with project.session() as session:
        people.add_user(session, "wendy", password=None)
        people.add_team(session, "red")
    with pytest.raises(AlreadyExists, match="'wendy'"), project.session() as session:
        people.add_user(session, "wendy", password=None)
    with pytest.raises(AlreadyExists, match="'red'"), project.session() as session:
        people.add_team(session, "red")
    with project.session() as session:
        with pytest.raises(NotFound, match="no user named 'walt'"):
            people.get_user(session, "walt")
        with pytest.raises(NotFound, match=r"no team named 'blue' \(teams: red\)"):
            people.get_team(session, "blue")
        with pytest.raises(InvalidName):
            people.add_team(session, "<b>red</b>")


def test_teams_and_their_members(project: Project) -> None:
    with project.session() as session:
        wendy = people.add_user(session, "wendy", password=None)
        people.add_user(session, "walt", password=None)
        people.add_team(session, "red", "the red team")
        people.add_team(session, "blue")
        people.add_member(session, "red", "wendy")
        people.add_member(session, "red", "wendy")  # twice changes nothing
        people.add_member(session, "blue", "wendy")
        people.add_member(session, "red", "walt")
    with project.session() as session:
        assert [t.name for t in people.teams_of(session, wendy.id)] == ["blue", "red"]
        red = people.get_team(session, "red")
        assert [u.username for u in people.members_of(session, red.id)] == ["walt", "wendy"]
        assert [(t.name, n) for t, n in people.list_teams(session)] == [("blue", 1), ("red", 2)]
        with pytest.raises(NotFound):
            people.add_member(session, "red", "nobody")


def test_api_tokens_are_stored_as_hashes_and_can_be_revoked(project: Project) -> None:
    with project.session() as session:
        user = people.add_user(session, "bot", password=None)
        token = people.create_api_token(session, user, "ci")
    with project.session() as session:
        row = session.query(ApiTokenRow).one()
        assert token not in row.token_hash and len(row.token_hash) == 64
        found = people.user_for_token(session, token)
        assert found is not None and found.username == "bot"
        assert row.last_used_at is not None
        assert people.user_for_token(session, token + "x") is None
        row.revoked = True
    with project.session() as session:
        assert people.user_for_token(session, token) is None


def test_the_portal_reads_a_token_and_records_its_use_apart(project: Project) -> None:
    """`token_owner` only reads (a request never waits on a write for bookkeeping); the use is
    recorded afterwards with `record_token_use`, at most once a minute."""
    with project.session() as session:
        user = people.add_user(session, "bot", password=None)
        token = people.create_api_token(session, user, "ci")
    with project.db.read_session() as session:
        owner = people.token_owner(session, token)
        assert owner is not None and owner.user.username == "bot" and owner.use_due
        assert people.token_owner(session, token + "x") is None
    with project.session() as session:
        assert session.query(ApiTokenRow).one().last_used_at is None
    people.record_token_use(project.db, token)
    with project.db.read_session() as session:
        owner = people.token_owner(session, token)
        assert owner is not None and not owner.use_due
        row = session.query(ApiTokenRow).one()
        assert row.last_used_at is not None
        row.revoked = True
    with project.db.read_session() as session:
        assert people.token_owner(session, token) is None


def test_an_invitation_link_works_once_and_expires(project: Project) -> None:
    with project.session() as session:
        user = people.add_user(session, "ivy", password=None)
        link = people.invite(session, user, base_url="http://portal.example/")
        old = people.invite(session, user, base_url="http://portal.example", ttl_hours=1)
    assert link.startswith("http://portal.example/invitations/")
    secret = link.rsplit("/", 1)[1]
    with project.session() as session:
        assert people.invited_user(session, secret).username == "ivy"
        with pytest.raises(InputError, match="at least 8"):
            people.accept_invitation(session, secret, "short")
    with project.session() as session:
        people.accept_invitation(session, secret, "a fine password")
    with project.session() as session:
        assert people.authenticate(session, "ivy", "a fine password") is not None
        with pytest.raises(InputError, match="already used"):
            people.accept_invitation(session, secret, "another password")
        with pytest.raises(InputError, match="not valid"):
            people.invited_user(session, "made-up")
        expired = session.query(InvitationRow).filter(InvitationRow.used_at.is_(None)).one()
        expired.expires_at -= timedelta(hours=2)
    with project.session() as session, pytest.raises(InputError, match="expired"):
        people.invited_user(session, old.rsplit("/", 1)[1])


def test_who_may_add_whom(sqlite_project: Project) -> None:
    admin, manager, worker = (UserRow(username=r, role=r) for r in ("admin", "manager", "worker"))
    people.check_may_add(admin, people.Role.MANAGER)
    people.check_may_add(manager, people.Role.WORKER)
    with pytest.raises(PermissionDenied, match="only admins may add managers"):
        people.check_may_add(manager, people.Role.MANAGER)
    with pytest.raises(PermissionDenied):
        people.check_may_add(worker, people.Role.WORKER)
