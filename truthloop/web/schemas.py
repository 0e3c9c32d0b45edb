"""What the REST API takes and gives for people and datasets: one schema per use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from truthloop.people import MAX_PASSWORD_LENGTH, MAX_TOKEN_DAYS, Role
from truthloop.web.text_fields import Line, Text

Name = Field(min_length=1, max_length=128)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    email: str | None
    active: bool


class Me(UserPublic):
    teams: list[str]


class UserCreate(BaseModel):
    username: Line = Name
    role: Role = Role.WORKER
    email: Line | None = Field(default=None, max_length=256)
    display_name: Line = Field(default="", max_length=256)
    password: str | None = Field(default=None, max_length=MAX_PASSWORD_LENGTH)


class UserCreated(BaseModel):
    user: UserPublic
    invitation: str | None = Field(description="One-time link to set a password (no password).")


class TokenCreate(BaseModel):
    name: Line = Field(default="api", max_length=128)
    expires_in_days: int | None = Field(
        default=None, ge=1, le=MAX_TOKEN_DAYS,
        description="Days the token works; null: until it is revoked.",
    )


class TokenCreated(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer TOKEN`; shown only once.")
    id: int = Field(description="What to revoke it by: DELETE /api/me/tokens/{id}.")
    expires_at: datetime | None


class TokenPublic(BaseModel):
    """A token as it may be shown: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class TeamCreate(BaseModel):
    name: Line = Name
    description: Text = Field(default="", max_length=4000)


class TeamPublic(BaseModel):
    name: str
    description: str
    members: list[str]


class MemberAdd(BaseModel):
    username: Line = Name


class DatasetPublic(BaseModel):
    name: str
    description: str
    items: int
    created_at: datetime


class LabelCountsPublic(BaseModel):
    attribute: str | None = Field(description="The label attribute; null: imported without one.")
    images: int = Field(description="Images with an annotation under this attribute.")
    images_per_label: dict[str, int]
    objects_per_label: dict[str, int]
    sources: dict[str, int]


class DatasetDetail(DatasetPublic):
    labels: list[str]
    attributes: list[LabelCountsPublic]
    items_per_split: dict[str, int]
    sources: dict[str, int]


class AnnotationPublic(BaseModel):
    kind: str
    attribute: str | None
    source: str
    value: dict[str, Any]
    worker: str | None
    job_name: str | None


class ItemPublic(BaseModel):
    id: int
    uri: str
    width: int | None
    height: int | None
    split: str
    image_url: str
    thumbnail_url: str
    annotations: list[AnnotationPublic]


class ItemPage(BaseModel):
    total: int
    offset: int
    items: list[ItemPublic]
