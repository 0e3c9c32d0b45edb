"""A project with a dataset of sized images, a team of three workers and an outsider."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    Split,
)
from truthloop.labeling import JobSpec, TaskType, create_job
from truthloop.people import add_member, add_team, add_user
from truthloop.storage import datasets as store
from truthloop.storage.db import Database
from truthloop.storage.project import Project

WIDTH, HEIGHT = 640, 480
ITEMS = 6


@dataclass
class Lab:
    project: Project
    users: dict[str, int]

    @property
    def db(self) -> Database:
        return self.project.db

    def job(self, name: str = "pets-job", **overrides: Any) -> int:
        spec = JobSpec(name=name, dataset="pets", task_type=TaskType.CLASSIFICATION, team="crew")
        with self.project.session() as session:
            return create_job(session, replace(spec, **overrides)).id


def records() -> list[ImageRecord]:
    """Six 640x480 images; the first four have model box proposals under `model`, the odd
    ones are in the test split."""
    out = []
    for n in range(ITEMS):
        annotations: tuple[Annotation, ...] = ()
        if n < 4:
            boxes = Boxes((Box("dog", 10 + n, 20, 100, 50, 0.9),))
            annotations = (Annotation(boxes, attribute="model"),)
        if n == 5:
            annotations = (Annotation(Classification("cat"), attribute="species"),)
        out.append(
            ImageRecord(
                f"/images/{n:03d}.jpg",
                ImageSize(WIDTH, HEIGHT),
                annotations,
                split=Split.TEST if n % 2 else Split.TRAIN,
            )
        )
    return out


def seed(project: Project) -> Lab:
    with project.session() as session:
        dataset = store.create_dataset(session, "pets", LabelSet.from_names(["cat", "dog"]))
        store.insert_items(session, dataset.id, [store.NewItem(r) for r in records()])
        add_team(session, "crew")
        add_team(session, "others")
        users = {}
        for name in ("alice", "bob", "carol", "mallory"):
            users[name] = add_user(session, name, password=None).id
            add_member(session, "others" if name == "mallory" else "crew", name)
    return Lab(project, users)


@pytest.fixture
def lab(project: Project) -> Lab:
    """On SQLite and on PostgreSQL."""
    return seed(project)


@pytest.fixture
def sqlite_lab(sqlite_project: Project) -> Lab:
    return seed(sqlite_project)


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
