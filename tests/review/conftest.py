"""A project with a review team (alice, bob), an outsider (mallory), a box template and an
output folder: what the review workflow's tests start from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from truthloop.people import add_member, add_team, add_user
from truthloop.review import FlowSpec, LoopStart, create_flow, create_task_ui, start_loop
from truthloop.review.templates import EXAMPLE_TEMPLATE
from truthloop.storage.project import Project
from truthloop.storage.tables import FlowDefinitionRow, HumanLoopRow


@dataclass
class Desk:
    project: Project
    users: dict[str, int]
    output: Path

    def flow(self, name: str = "pets-review", **overrides: Any) -> FlowDefinitionRow:
        spec: dict[str, Any] = {
            "name": name,
            "team": "reviewers",
            "task_ui": "boxes-ui",
            "title": "Check the pet heads",
            "description": "Move or delete boxes that are wrong.",
            "output": str(self.output),
        }
        return create_flow(self.project, FlowSpec(**(spec | overrides)))

    def loop(
        self, name: str, flow: str = "pets-review", now: datetime | None = None, **content: Any
    ) -> HumanLoopRow:
        body = {"taskObject": "s3://bucket/cat.jpg", "initialValue": []} | content
        loop, _ = start_loop(
            self.project, LoopStart(name, flow, orjson.dumps(body).decode()), now=now
        )
        return loop


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.fixture
def desk(project: Project, tmp_path: Path) -> Iterator[Desk]:
    with project.session() as session:
        add_team(session, "reviewers")
        add_team(session, "others")
        users = {}
        for name in ("alice", "bob", "mallory"):
            users[name] = add_user(session, name, password=None).id
            add_member(session, "others" if name == "mallory" else "reviewers", name)
        create_task_ui(session, "boxes-ui", EXAMPLE_TEMPLATE)
    output = project.home / "review-output"
    yield Desk(project, users, output)
