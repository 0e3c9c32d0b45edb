"""REST API: who am I, API tokens, users and teams."""

from __future__ import annotations

from fastapi import APIRouter, Response

from truthloop import people
from truthloop.web.deps import CurrentUser, ProjectDep, RequireManager, SessionDep
from truthloop.web.schemas import (
    Me,
    MemberAdd,
    TeamCreate,
    TeamPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
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
    issued = people.issue_api_token(
        session, user, body.name, expires_in_days=body.expires_in_days
    )
    return TokenCreated(token=issued.secret, id=issued.info.id, expires_at=issued.info.expires_at)


@router.get("/me/tokens")
def list_tokens(session: SessionDep, user: CurrentUser) -> list[TokenPublic]:
    """Your live API tokens: names and dates, never the secrets."""
    return [TokenPublic.model_validate(t) for t in people.list_api_tokens(session, user)]


@router.delete("/me/tokens/{token_id}", status_code=204)
def revoke_token(session: SessionDep, user: CurrentUser, token_id: int) -> Response:
    people.revoke_api_token(session, user, token_id)
    return Response(status_code=204)


@router.get("/users")
def list_users(session: SessionDep, _: RequireManager) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in people.list_users(session)]


@router.post("/users", status_code=201)
def create_user(
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
        # The configured address, never the request's Host header, which its sender chooses.
        link = people.invite(session, user, base_url=project.settings.base_url, mailer=mailer)
    return UserCreated(user=UserPublic.model_validate(user), invitation=link)


@router.post("/users/{username}/deactivate")
def deactivate_user(session: SessionDep, admin: RequireManager, username: str) -> UserPublic:
    """Ends every session and API token of the user at once; they cannot sign in again until
    reactivated."""
    user = people.get_user(session, username)
    people.check_may_deactivate(admin, user)
    people.deactivate_user(session, user)
    return UserPublic.model_validate(user)


@router.post("/users/{username}/activate")
def activate_user(session: SessionDep, admin: RequireManager, username: str) -> UserPublic:
    user = people.get_user(session, username)
    people.check_may_deactivate(admin, user)
    people.activate_user(session, user)
    return UserPublic.model_validate(user)


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
