"""A pipeline to work with: project `shapes` on SQLite and PostgreSQL, a review team (alice,
bob), a training dataset of 12 labeled shapes, the pipeline's own review flow, and a FakeModel
(instant, no torch) that answers images it trained on at 95 % and any other at 30 %, below
the default minimum of 70: so a test decides which images are "unsure"."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests.ml.shapes import Shapes, shapes
from tests.ml.stored import store_shapes
from truthloop.core.types import Value
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.people import add_member, add_team, add_user
from truthloop.pipeline import PipelineSpec, create_pipeline, get_pipeline
from truthloop.pipeline.intake import Incoming
from truthloop.pipeline.review_flow import create_review_flow
from truthloop.storage.project import Project

SEEN = shapes(12, task="classification", size=48, seed=5)
UNSEEN = shapes(6, task="classification", size=48, seed=23)


def png(data: Shapes, index: int) -> bytes:
    out = io.BytesIO()
    data.images[data.records[index].uri].save(out, "PNG")
    return out.getvalue()


def incoming(data: Shapes, name: str = "img") -> list[Incoming]:
    return [Incoming(f"{name}-{i}.png", png(data, i)) for i in range(len(data.records))]


def truth(data: Shapes) -> dict[str, Value]:
    """The true value of each image, by the content hash the pipeline stores it under."""
    import hashlib

    return {
        hashlib.sha256(png(data, i)).hexdigest(): record.annotations[0].value
        for i, record in enumerate(data.records)
    }


@dataclass
class Line:
    project: Project
    flow: str
    reviewers: list[int]

    def deployed(self) -> str | None:
        with self.project.session() as session:
            return get_pipeline(session, "shapes").deployed_version


@pytest.fixture
def line(project: Project) -> Iterator[Line]:
    with project.session() as session:
        add_team(session, "reviewers")
        reviewers = []
        for name in ("alice", "bob"):
            reviewers.append(add_user(session, name, password=None).id)
            add_member(session, "reviewers", name)
    store_shapes(project, "shapes-train", SEEN)
    flow = create_review_flow(project, "shapes", "classification", team="reviewers")
    model = FakeModel(task=Task.CLASSIFICATION, guess_confidence=0.3)
    with project.session() as session:
        create_pipeline(
            session, PipelineSpec("shapes", "classification", "shapes-train", flow, model)
        )
    yield Line(project, flow, reviewers)


def picture(path: Path, colour: str = "red") -> Path:
    Image.new("RGB", (32, 32), colour).save(path)
    return path
