"""REST API: who am I, API tokens, users and teams."""

from __future__ import annotations

from fastapi import APIRouter, Request

from truthloop import people
from truthloop.web.deps import CurrentUser, ProjectDep, RequireManager, SessionDep
from truthloop.web.schemas import (
    Me,
    MemberAdd,
    TeamCreate,
    TeamPublic,
    TokenCreate,
    TokenCreated,
    UserCreate,
    UserCreated,
    UserPublic,
)

router = APIRouter(prefix="/api", tags=["people"])


@router.get("/me")
def me(session: SessionDep, user: CurrentUser) -> Me:
    teams = [t.name for t in people.teams_of(session, user.id)]
    return Me.model_validate({**UserPublic.model_validate(user).model_dump(), "teams": teams})


@router.post("/me/tokens", status_code=201)
def create_token(session: SessionDep, user: CurrentUser, body: TokenCreate) -> TokenCreated:
    return TokenCreated(token=people.create_api_token(session, user, body.name))


@router.get("/users")
def list_users(session: SessionDep, _: RequireManager) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in people.list_users(session)]


@router.post("/users", status_code=201)
def create_user(
    request: Request,
    project: ProjectDep,
    session: SessionDep,
    manager: RequireManager,
    body: UserCreate,
) -> UserCreated:
    people.check_may_add(manager, body.role)
    user = people.add_user(
        session, body.username, password=body.password, role=body.role, email=body.email,
        display_name=body.display_name,
    )
    link = None
    if body.password is None:
        mailer = people.Mailer.from_settings(project.settings)
        link = people.invite(session, user, base_url=str(request.base_url), mailer=mailer)
    return UserCreated(user=UserPublic.model_validate(user), invitation=link)


@router.get("/teams")
def list_teams(session: SessionDep, _: RequireManager) -> list[TeamPublic]:
    return [
        TeamPublic(
            name=team.name,
            description=team.description,
            members=[u.username for u in people.members_of(session, team.id)],
        )
        for team, _count in people.list_teams(session)
    ]


@router.post("/teams", status_code=201)
def create_team(session: SessionDep, _: RequireManager, body: TeamCreate) -> TeamPublic:
    team = people.add_team(session, body.name, body.description)
    return TeamPublic(name=team.name, description=team.description, members=[])


@router.post("/teams/{name}/members", status_code=201)
def add_member(session: SessionDep, _: RequireManager, name: str, body: MemberAdd) -> TeamPublic:
    people.add_member(session, name, body.username)
    team = people.get_team(session, name)
    return TeamPublic(
        name=team.name,
        description=team.description,
        members=[u.username for u in people.members_of(session, team.id)],
    )
