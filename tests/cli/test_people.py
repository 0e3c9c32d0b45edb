"""`truthloop user ...` and `truthloop team ...`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from truthloop import people
from truthloop.cli.main import app
from truthloop.storage.project import Project

runner = CliRunner()


def _run(home: Path, *args: str, stdin: str | None = None):
    return runner.invoke(app, ["--home", str(home), *args], input=stdin, catch_exceptions=False)


def test_users_teams_and_tokens(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Project.init(home).close()
    added = _run(home, "user", "add", "ada", "--role", "admin", "--password-stdin", "--json",
                 stdin="a long password\n")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"user": "ada", "role": "admin", "email": None,
                                        "invitation": None, "mailed": False}
    invited = _run(home, "user", "add", "wendy", "--email", "w@example.org",
                   "--base-url", "http://labels.example")
    assert invited.exit_code == 0
    link = invited.stdout.splitlines()[-1]
    assert link.startswith("http://labels.example/invitations/") and " " not in link
    token = json.loads(_run(home, "user", "token", "ada", "--json").stdout)["token"]
    assert _run(home, "team", "add", "red", "--description", "first team").exit_code == 0
    assert _run(home, "team", "add-member", "red", "wendy").exit_code == 0
    teams = json.loads(_run(home, "team", "list", "--json").stdout)
    assert teams == [{"team": "red", "description": "first team", "members": ["wendy"]}]
    users = json.loads(_run(home, "user", "list", "--json").stdout)
    assert [(u["user"], u["has_password"]) for u in users] == [("ada", True), ("wendy", False)]
    with Project.open(home) as project, project.session() as session:
        assert people.authenticate(session, "ada", "a long password") is not None
        found = people.user_for_token(session, token)
        assert found is not None and found.username == "ada"


def test_errors_are_messages(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Project.init(home).close()
    bad = _run(home, "user", "add", "../x", "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["error"] == "InvalidName"
    missing = _run(home, "team", "add-member", "red", "nobody")
    assert missing.exit_code == 1 and "no team named 'red'" in missing.output
    empty = _run(home, "user", "add", "ivy", "--password-stdin", stdin="\n")
    assert empty.exit_code == 1 and "held no password" in empty.output
    short = _run(home, "user", "add", "ivy", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output


def test_tokens_are_listed_revoked_and_users_deactivated(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Project.init(home).close()
    assert _run(home, "user", "add", "ada", "--password-stdin",
                stdin="a long password\n").exit_code == 0
    made = json.loads(_run(home, "user", "token", "ada", "--name", "ci", "--expires-days", "30",
                           "--json").stdout)
    assert made["expires_at"].endswith("Z")
    kept = json.loads(_run(home, "user", "token", "ada", "--json").stdout)
    listed = json.loads(_run(home, "user", "tokens", "ada", "--json").stdout)
    assert [(t["id"], t["name"]) for t in listed] == [(made["id"], "ci"), (kept["id"], "cli")]
    assert made["token"] not in json.dumps(listed)
    assert _run(home, "user", "revoke-token", "ada", str(made["id"])).exit_code == 0
    again = _run(home, "user", "revoke-token", "ada", str(made["id"]))
    assert again.exit_code == 1 and "no live API token" in again.output
    assert _run(home, "user", "deactivate", "ada").exit_code == 0
    users = json.loads(_run(home, "user", "list", "--json").stdout)
    assert users[0]["active"] is False
    with Project.open(home) as project, project.session() as session:
        assert people.user_for_token(session, kept["token"]) is None
        assert people.authenticate(session, "ada", "a long password") is None
    assert _run(home, "user", "activate", "ada").exit_code == 0


def test_invitation_links_use_the_configured_base_url(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    Project.init(home).close()
    default = json.loads(_run(home, "user", "add", "ivy", "--json").stdout)["invitation"]
    assert default.startswith("http://127.0.0.1:8000/invitations/")
    monkeypatch.setenv("TRUTHLOOP_BASE_URL", "https://labels.example/")
    configured = json.loads(_run(home, "user", "invite", "ivy", "--json").stdout)["invitation"]
    assert configured.startswith("https://labels.example/invitations/")
