"""A small project to drive the portal with: images on disk, people in two teams, and jobs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from PIL import Image, ImageDraw

from truthloop import labeling, people
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    Source,
)
from truthloop.storage import datasets as store
from truthloop.storage.project import Project

WIDTH, HEIGHT = 400, 300
LABELS = ("cat", "dog", "bird")
PASSWORD = "correct horse battery"
ITEMS = 4
# Hashed once for every test: argon2 is slow on purpose.
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)


@dataclass
class Portal:
    project: Project

    def job(self, name: str = "boxes-job", **overrides: Any) -> int:
        spec = labeling.JobSpec(
            name=name, dataset="shapes", task_type=labeling.TaskType.BOUNDING_BOX, team="red",
            instructions="Draw a box around **every** animal.",
        )
        with self.project.session() as session:
            return labeling.create_job(session, replace(spec, **overrides)).id

    def token(self, username: str) -> str:
        with self.project.session() as session:
            return people.create_api_token(session, people.get_user(session, username), "test")


def _image(path: Path, n: int) -> None:
    image = Image.new("RGB", (WIDTH, HEIGHT), (235 - 20 * n, 240, 230))
    draw = ImageDraw.Draw(image)
    draw.ellipse((60 + 10 * n, 70, 180 + 10 * n, 190), fill=(200, 120, 40))
    draw.rectangle((240, 120, 340, 260), fill=(60, 90, 200))
    image.save(path)


def seed(project: Project) -> Portal:
    """Images 0-3 (400x300): model box proposals under `model` on 0-2, a model class under
    `species` on 3.
    Users: ada (admin), mia (manager), wendy and walt (team red), otto (team blue)."""
    folder = project.home / "images"
    folder.mkdir()
    records = []
    for n in range(ITEMS):
        path = folder / f"{n}.png"
        _image(path, n)
        proposal = (
            Annotation(
                Boxes((Box("cat", 60 + 10 * n, 70, 120, 120, 0.91),
                       Box("dog", 240, 120, 100, 140, 0.42))),
                source=Source.MODEL, attribute="model",
            )
            if n < 3
            else Annotation(Classification("bird", 0.66), source=Source.MODEL, attribute="species")
        )
        records.append(ImageRecord(str(path), ImageSize(WIDTH, HEIGHT), (proposal,)))
    with project.session() as session:
        dataset = store.create_dataset(session, "shapes", LabelSet.from_names(LABELS))
        store.insert_items(session, dataset.id, [store.NewItem(r) for r in records])
        users = [
            people.add_user(session, "ada", password=None, role=people.Role.ADMIN),
            people.add_user(session, "mia", password=None, role=people.Role.MANAGER),
            *(people.add_user(session, name, password=None, display_name=name.title())
              for name in ("wendy", "walt", "otto")),
        ]
        for user in users:
            user.password_hash = PASSWORD_HASH
        people.add_team(session, "red", "the red team")
        people.add_team(session, "blue")
        people.add_member(session, "red", "wendy")
        people.add_member(session, "red", "walt")
        people.add_member(session, "blue", "otto")
    return Portal(project)


def browser_sign_in(page: Any, username: str) -> None:
    """Sign in through the portal's form in a Playwright page, and wait to leave it."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
