"""Worker task templates (A2I's human task UIs), stored by name once they are checked:
a template with a Liquid syntax error or an unknown filter is refused when it is created,
naming the line (review/templates.py), never found out by the first reviewer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.core.review_terms import a2i_name_problem
from truthloop.errors import AlreadyExists, InputError, InvalidName, NotFound
from truthloop.review.templates import check_template
from truthloop.storage.tables import FlowDefinitionRow, HumanTaskUiRow, utcnow


def create_task_ui(
    session: Session, name: str, template: str, *, created_by: int | None = None
) -> HumanTaskUiRow:
    """Store a checked template under `name` (CreateHumanTaskUi)."""
    if problem := a2i_name_problem("human task UI", name):
        raise InvalidName(problem)
    if session.scalar(select(HumanTaskUiRow.id).where(HumanTaskUiRow.name == name)) is not None:
        raise AlreadyExists(f"a human task UI named {name!r} already exists")
    check_template(template)
    row = HumanTaskUiRow(name=name, template=template, created_by=created_by, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def get_task_ui(session: Session, name: str) -> HumanTaskUiRow:
    """A template by name; NotFound names those that exist."""
    row = session.scalar(select(HumanTaskUiRow).where(HumanTaskUiRow.name == name))
    if row is None:
        known = session.scalars(
            select(HumanTaskUiRow.name).order_by(HumanTaskUiRow.name).limit(20)
        ).all()
        raise NotFound(f"no human task UI {name!r} (task UIs: {', '.join(known) or 'none'})")
    return row


def list_task_uis(session: Session) -> list[HumanTaskUiRow]:
    """Every template, newest first."""
    return list(session.scalars(select(HumanTaskUiRow).order_by(HumanTaskUiRow.id.desc())))


def delete_task_ui(session: Session, name: str) -> None:
    """Delete a template no flow uses."""
    row = get_task_ui(session, name)
    users = session.scalars(
        select(FlowDefinitionRow.name).where(FlowDefinitionRow.ui_id == row.id)
    ).all()
    if users:
        raise InputError(
            f"human task UI {name!r} is used by flow definition(s) {', '.join(users)};"
            " delete those first"
        )
    session.delete(row)
