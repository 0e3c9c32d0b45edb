"""People: users and their roles, private teams, API tokens and invitation links."""

from truthloop.people.mail import Mailer
from truthloop.people.teams import (
    add_member,
    add_team,
    get_team,
    list_teams,
    members_of,
    teams_of,
)
from truthloop.people.tokens import (
    TokenOwner,
    accept_invitation,
    create_api_token,
    invite,
    invited_user,
    record_token_use,
    token_owner,
    user_for_token,
)
from truthloop.people.users import (
    Role,
    add_user,
    authenticate,
    check_may_add,
    get_user,
    is_manager,
    list_users,
    parse_role,
    set_password,
    user_by_id,
)

__all__ = [
    "Mailer",
    "Role",
    "TokenOwner",
    "accept_invitation",
    "add_member",
    "add_team",
    "add_user",
    "authenticate",
    "check_may_add",
    "create_api_token",
    "get_team",
    "get_user",
    "invite",
    "invited_user",
    "is_manager",
    "list_teams",
    "list_users",
    "members_of",
    "parse_role",
    "record_token_use",
    "set_password",
    "teams_of",
    "token_owner",
    "user_by_id",
    "user_for_token",
]
