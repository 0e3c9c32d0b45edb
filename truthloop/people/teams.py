"""Private work teams: a worker sees only the jobs of the teams they belong to."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from truthloop.core.names import name_problem
from truthloop.errors import AlreadyExists, InvalidName, NotFound
from truthloop.people.users import get_user
from truthloop.storage.tables import TeamMemberRow, TeamRow, UserRow


def add_team(session: Session, name: str, description: str = "") -> TeamRow:
    if problem := name_problem("team", name):
        raise InvalidName(problem)
    if session.scalar(select(TeamRow.id).where(TeamRow.name == name)) is not None:
        raise AlreadyExists(f"a team named {name!r} already exists")
    team = TeamRow(name=name, description=description)
    session.add(team)
    session.flush()
    return team


def get_team(session: Session, name: str) -> TeamRow:
    team = session.scalar(select(TeamRow).where(TeamRow.name == name))
    if team is None:
        known = session.scalars(select(TeamRow.name).order_by(TeamRow.name).limit(20)).all()
        raise NotFound(f"no team named {name!r} (teams: {', '.join(known) or 'none'})")
    return team


def add_member(session: Session, team: str, username: str) -> None:
    """Put a user in a team; adding someone who is already a member changes nothing."""
    team_row = get_team(session, team)
    user = get_user(session, username)
    if session.get(TeamMemberRow, (team_row.id, user.id)) is None:
        session.add(TeamMemberRow(team_id=team_row.id, user_id=user.id))
        session.flush()


def teams_of(session: Session, user_id: int) -> list[TeamRow]:
    return list(
        session.scalars(
            select(TeamRow)
            .join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
            .where(TeamMemberRow.user_id == user_id)
            .order_by(TeamRow.name)
        )
    )


def members_of(session: Session, team_id: int) -> list[UserRow]:
    return list(
        session.scalars(
            select(UserRow)
            .join(TeamMemberRow, TeamMemberRow.user_id == UserRow.id)
            .where(TeamMemberRow.team_id == team_id)
            .order_by(UserRow.username)
        )
    )


def list_teams(session: Session) -> list[tuple[TeamRow, int]]:
    """Every team with its number of members, by name."""
    counts = (
        select(TeamMemberRow.team_id, func.count().label("n"))
        .group_by(TeamMemberRow.team_id)
        .subquery()
    )
    rows = session.execute(
        select(TeamRow, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.team_id == TeamRow.id)
        .order_by(TeamRow.name)
    ).all()
    return [(team, int(n)) for team, n in rows]
