"""Simulated reviewers for a pipeline's review flow: they take the flow's tasks as the portal
hands them out and answer from the truth, as a person would in the pipeline's own task UI
(`pipeline/review_flow.py`): a classifier's `{"category": {"label": ...}}`, or the boxes of
crowd-bounding-box.

    answer_loops(project, "logos-review", truth, [alice_id, bob_id]) -> Reviewed(tasks, seconds)

`truth` maps an image's content hash (SHA-256, as the pipeline stores images by) to its true
value; an image it does not know, or one listed in `none_of_the_above`, is answered "None of
the Above" (classification) or with no boxes. With an `error_rate`, a reviewer misreads a
class that often, as people do. The seconds follow the human-effort model: a
glance to accept the model's class, a pick to change it; for boxes, a verify per box kept and
a draw per box the model missed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from truthloop.core.effort import task_seconds
from truthloop.core.types import Boxes, Classification, Value
from truthloop.labeling import next_task
from truthloop.pipeline.intake import NONE_OF_THE_ABOVE
from truthloop.review import get_flow, submit_review
from truthloop.review.work import loop_of_task
from truthloop.storage.project import Project


@dataclass(frozen=True, slots=True)
class Reviewed:
    """What the reviewers did: tasks answered and the human seconds they took."""

    tasks: int = 0
    seconds: float = 0.0


def answer_loops(
    project: Project,
    flow: str,
    truth: Mapping[str, Value],
    reviewers: Sequence[int],
    *,
    none_of_the_above: Collection[str] = (),
    most: int | None = None,
    error_rate: float = 0.0,
    seed: int = 0,
) -> Reviewed:
    """The reviewers take turns until no task waits (or `most` are answered); with
    `error_rate`, a class is misread that often (another of the loop's classes is picked)."""
    rng = random.Random(seed)
    with project.session() as session:
        job_id = get_flow(session, flow).job_id
    tasks, seconds, idle, turn = 0, 0.0, 0, 0
    while idle < len(reviewers) and (most is None or tasks < most):
        user = reviewers[turn % len(reviewers)]
        turn += 1
        task = next_task(project.db, job_id, user)
        if task is None:
            idle += 1
            continue
        idle = 0
        with project.session() as session:
            loop, _ = loop_of_task(session, task.job_id, task.item_id)
            content = orjson.loads(loop.input_content)
        digest = str(content["taskObject"]).rsplit("/", 1)[-1].split(".", 1)[0]
        wanted = None if digest in none_of_the_above else truth.get(digest)
        if isinstance(wanted, Classification) and rng.random() < error_rate:
            wanted = _misread(wanted, content, rng)
        answer, spent = _answer(content, wanted)
        submit_review(
            project,
            task.task_id,
            user,
            client_id=uuid.uuid4().hex,
            answer=answer,
            seconds=spent,
        )
        tasks, seconds = tasks + 1, seconds + spent
    return Reviewed(tasks, round(seconds, 3))


def _misread(
    truth: Classification, content: Mapping[str, Any], rng: random.Random
) -> Classification:
    others = [c for c in content.get("labels", []) if c not in (truth.label, NONE_OF_THE_ABOVE)]
    return Classification(rng.choice(others)) if others else truth


def _answer(content: Mapping[str, Any], wanted: Value | None) -> tuple[dict[str, Any], float]:
    """The form's output for the true `wanted` (None: none of the model's classes), and the
    seconds it took."""
    initial = content.get("initialValue")
    if isinstance(wanted, Boxes) or (wanted is None and isinstance(initial, list)):
        boxes = wanted.boxes if isinstance(wanted, Boxes) else ()
        proposed = len(initial or [])
        drawn = [
            {"label": b.label, "left": b.left, "top": b.top, "width": b.width, "height": b.height}
            for b in boxes
        ]
        actions = {
            "verify_box": min(proposed, len(boxes)),
            "draw_box": max(len(boxes) - proposed, 0),
        }
        return {"annotatedResult": {"boundingBoxes": drawn}}, task_seconds(actions)
    label = wanted.label if isinstance(wanted, Classification) else NONE_OF_THE_ABOVE
    actions = {"verify_label": 1} if label == initial else {"classify": 1}
    return {"category": {"label": label}}, task_seconds(actions)
