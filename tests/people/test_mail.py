"""Invitations by mail, through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.receivers import Inbox, smtp_inbox
from tests.services import free_port
from truthloop import people
from truthloop.config import Settings
from truthloop.errors import ConfigError
from truthloop.storage.project import Project


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    with smtp_inbox() as served:
        yield served


def test_no_smtp_host_means_no_mailer() -> None:
    assert people.Mailer.from_settings(Settings()) is None


def test_an_invitation_is_mailed_when_smtp_is_configured(
    sqlite_project: Project, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    mailer = people.Mailer.from_settings(
        Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                 smtp_sender="labels@example.org")
    )
    assert mailer is not None
    with sqlite_project.session() as session:
        user = people.add_user(session, "ivy", password=None, email="ivy@example.org",
                               display_name="Ivy")
        link = people.invite(session, user, base_url="http://portal", mailer=mailer)
    [(to, message)] = inbox.messages
    assert to == ["ivy@example.org"]
    assert message["From"] == "labels@example.org"
    assert message["Subject"] == "Your truthloop invitation"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert link in body and "Hello Ivy" in body


def test_an_unreachable_smtp_server_is_a_clear_error_and_stores_nothing(
    sqlite_project: Project,
) -> None:
    mailer = people.Mailer(host="127.0.0.1", port=free_port(), starttls=False, timeout_s=2)
    refused = r"could not send mail to ivy@example.org .*SMTP"
    with pytest.raises(ConfigError, match=refused), sqlite_project.session() as session:
        user = people.add_user(session, "ivy", password=None, email="ivy@example.org")
        people.invite(session, user, base_url="http://portal", mailer=mailer)
    with sqlite_project.session() as session:
        assert people.list_users(session) == []
