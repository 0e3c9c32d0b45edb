"""`truthloop user ...` and `truthloop team ...`: people, their API tokens and private teams."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from truthloop import people
from truthloop.cli.context import open_project
from truthloop.cli.output import JsonOption, console, errors_as_messages, print_json
from truthloop.config import DEFAULT_BASE_URL
from truthloop.errors import InputError

user_app = typer.Typer(help="Add users, invite them and make API tokens.", no_args_is_help=True)
team_app = typer.Typer(help="Private work teams and their members.", no_args_is_help=True)

BaseUrlOption = Annotated[
    str | None,
    typer.Option(help="Address of the portal, for invitation links [default: TRUTHLOOP_BASE_URL,"
                 f" else {DEFAULT_BASE_URL}]."),
]


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError("--password-stdin was given but standard input held no password")
    return password


def _print_link(link: str) -> None:
    console.print(Text("invitation link (valid 72 hours, works once):"))
    # Never wrapped: the link must survive a copy and paste whole.
    console.print(Text(link), soft_wrap=True)


@user_app.command("add")
def add_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ -).")],
    role: Annotated[people.Role, typer.Option(help="What the user may do.")] = people.Role.WORKER,
    email: Annotated[str | None, typer.Option(help="Where the invitation is mailed.")] = None,
    display_name: Annotated[str, typer.Option(help="Name shown in the portal.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add a user; without --password-stdin an invitation link is printed (and mailed)."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        password = _read_password() if password_stdin else None
        mailer = people.Mailer.from_settings(project.settings)
        with project.session() as session:
            user = people.add_user(
                session, name, password=password, role=role, email=email,
                display_name=display_name,
            )
            link = None if password else people.invite(
                session, user, base_url=base_url or project.settings.base_url, mailer=mailer
            )
            info = {"user": user.username, "role": user.role, "email": user.email,
                    "invitation": link, "mailed": bool(link and mailer and user.email)}
    if json_output:
        print_json(info)
        return
    console.print(Text(f"added {info['role']} {info['user']}"))
    if link:
        _print_link(link)
        if info["mailed"]:
            console.print(Text(f"the link was mailed to {info['email']}"))


@user_app.command("invite")
def invite_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User to invite again.")],
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Make a new invitation link for an existing user (to set or reset their password: the
    new password ends their sessions and revokes their API tokens)."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        mailer = people.Mailer.from_settings(project.settings)
        with project.session() as session:
            user = people.get_user(session, name)
            link = people.invite(
                session, user, base_url=base_url or project.settings.base_url, mailer=mailer
            )
            mailed = bool(mailer and user.email)
    if json_output:
        print_json({"user": name, "invitation": link, "mailed": mailed})
    else:
        _print_link(link)


@user_app.command("token")
def token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User the token acts as.")],
    token_name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
    expires_days: Annotated[
        int | None,
        typer.Option(min=1, max=people.MAX_TOKEN_DAYS,
                     help="Days the token works [default: until revoked]."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Make an API token (sent as `Authorization: Bearer TOKEN`); it is shown only once."""
    with errors_as_messages(json_output), open_project(ctx).session() as s:
        issued = people.issue_api_token(
            s, people.get_user(s, name), token_name, expires_in_days=expires_days
        )
    if json_output:
        print_json({"user": name, "token": issued.secret, "id": issued.info.id,
                    "expires_at": _when(issued.info.expires_at)})
    else:
        console.print(Text(issued.secret))


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


@user_app.command("tokens")
def list_tokens(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User whose tokens to list.")],
    json_output: JsonOption = False,
) -> None:
    """A user's live API tokens: id, name and dates (never the secrets)."""
    with errors_as_messages(json_output), open_project(ctx).session() as s:
        rows: list[dict[str, Any]] = [
            {"id": t.id, "name": t.name, "created_at": _when(t.created_at),
             "last_used_at": _when(t.last_used_at), "expires_at": _when(t.expires_at)}
            for t in people.list_api_tokens(s, people.get_user(s, name))]
    if json_output:
        print_json(rows)
        return
    table = Table("id", "name", "created", "last used", "expires")
    for row in rows:
        table.add_row(str(row["id"]), Text(row["name"]), row["created_at"],
                      row["last_used_at"] or "never", row["expires_at"] or "never")
    console.print(table)


@user_app.command("revoke-token")
def revoke_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User the token belongs to.")],
    token_id: Annotated[int, typer.Argument(help="The token's id (`truthloop user tokens`).")],
    json_output: JsonOption = False,
) -> None:
    """Revoke one API token: it stops working at once."""
    with errors_as_messages(json_output), open_project(ctx).session() as s:
        people.revoke_api_token(s, people.get_user(s, name), token_id)
    if json_output:
        print_json({"user": name, "revoked": token_id})
    else:
        console.print(Text(f"revoked token {token_id} of {name}"))


@user_app.command("deactivate")
def deactivate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User to deactivate.")],
    json_output: JsonOption = False,
) -> None:
    """Stop a user signing in, and end every session and API token they hold, at once."""
    with errors_as_messages(json_output), open_project(ctx).session() as s:
        people.deactivate_user(s, people.get_user(s, name))
    if json_output:
        print_json({"user": name, "active": False})
    else:
        console.print(Text(f"deactivated {name}: their sessions and tokens have ended"))


@user_app.command("activate")
def activate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User to let sign in again.")],
    json_output: JsonOption = False,
) -> None:
    """Let a deactivated user sign in again (they make new tokens; the old stay revoked)."""
    with errors_as_messages(json_output), open_project(ctx).session() as s:
        people.activate_user(s, people.get_user(s, name))
    if json_output:
        print_json({"user": name, "active": True})
    else:
        console.print(Text(f"{name} may sign in again"))


@user_app.command("list")
def list_users(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every user with their role."""
    with errors_as_messages(json_output), open_project(ctx).session() as s:
        rows: list[dict[str, Any]] = [{"user": u.username, "role": u.role, "email": u.email,
                 "display_name": u.display_name, "active": u.active,
                 "has_password": u.password_hash is not None} for u in people.list_users(s)]
    if json_output:
        print_json(rows)
        return
    table = Table("user", "role", "email", "signed up", "access")
    for row in rows:
        table.add_row(Text(row["user"]), row["role"], Text(row["email"] or ""),
                      "yes" if row["has_password"] else "invited",
                      "active" if row["active"] else "deactivated")
    console.print(table)


@team_app.command("add")
def add_team(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Team name (letters, digits, . _ -).")],
    description: Annotated[str, typer.Option(help="What the team does.")] = "",
    json_output: JsonOption = False,
) -> None:
    """Add a private work team."""
    with errors_as_messages(json_output), open_project(ctx).session() as s:
        people.add_team(s, name, description)
    if json_output:
        print_json({"team": name})
    else:
        console.print(Text(f"added team {name}"))


@team_app.command("add-member")
def add_member(
    ctx: typer.Context,
    team: Annotated[str, typer.Argument(help="Team to add to.")],
    user: Annotated[str, typer.Argument(help="User to add.")],
    json_output: JsonOption = False,
) -> None:
    """Put a user in a team: they will see the team's jobs."""
    with errors_as_messages(json_output), open_project(ctx).session() as s:
        people.add_member(s, team, user)
    if json_output:
        print_json({"team": team, "user": user})
    else:
        console.print(Text(f"{user} is in team {team}"))


@team_app.command("list")
def list_teams(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every team with its members."""
    with errors_as_messages(json_output), open_project(ctx).session() as s:
        rows: list[dict[str, Any]] = [{"team": t.name, "description": t.description,
                 "members": [u.username for u in people.members_of(s, t.id)]}
                for t, _ in people.list_teams(s)]
    if json_output:
        print_json(rows)
        return
    table = Table("team", "members", "description")
    for row in rows:
        table.add_row(Text(row["team"]), Text(", ".join(row["members"])), Text(row["description"]))
    console.print(table)
