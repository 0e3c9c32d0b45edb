"""Simulated workers: they answer a job's tasks from hidden ground truth, with a profile's
error rates and the seconds each action takes a person, through the same `next_task` and
`submit` a person's browser calls — no back door into the tables.

Seconds per action come from the human-effort model in `core/effort.py`, which cites its
sources.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import select

from truthloop.core.correctness import is_correct
from truthloop.core.effort import ActionSeconds, task_seconds
from truthloop.core.geometry import clip, iou
from truthloop.core.types import (
    Box,
    Boxes,
    Classification,
    ImageSize,
    MultiLabel,
    Value,
    Verification,
)
from truthloop.errors import NotFound
from truthloop.labeling import TaskType, TaskView, get_job, next_task, submit
from truthloop.people import Role, add_member, add_team, add_user
from truthloop.storage.project import Project
from truthloop.storage.tables import TeamRow, UserRow

Truth = Mapping[str, Value]
"""Image URI -> the hidden ground-truth value of that image."""

# A proposed box this close to the true one is kept as it is; one that overlaps less (but
# still overlaps) is moved onto the object; one that overlaps nothing is deleted.
KEEP_IOU = 0.7
ADJUST_IOU = 0.3


@dataclass(frozen=True)
class WorkerProfile:
    username: str
    class_error_rate: float = 0.02  # chance of a wrong class (or verdict)
    miss_rate: float = 0.0  # chance of missing a box
    box_jitter: float = 0.02  # box edges move by this share of the box size
    seconds: ActionSeconds = field(default_factory=ActionSeconds)
    traditional_boxes: bool = False  # 35 s per box instead of extreme clicking


@dataclass(frozen=True)
class WorkSummary:
    tasks: int
    seconds: float  # simulated human seconds spent
    per_worker: Mapping[str, float]
    actions: Mapping[str, int]  # e.g. {"draw_box": 12, "verify_box": 30, ...}


@dataclass
class _Answer:
    value: Value
    actions: Counter[str]


class SimulatedWorkforce:
    """Workers answering from `truth` (see the module docstring)."""

    def __init__(
        self,
        project: Project,
        truth: Truth,
        workers: Sequence[WorkerProfile],
        *,
        team: str,
        seed: int = 0,
    ):
        if not workers:
            raise ValueError("a simulated workforce needs at least one worker")
        self.project = project
        self.truth = truth
        self.workers = tuple(workers)
        self.team = team
        self._rng = random.Random(seed)
        self.user_ids = self._enrol()

    def _enrol(self) -> dict[str, int]:
        ids: dict[str, int] = {}
        with self.project.session() as session:
            if session.scalar(select(TeamRow.id).where(TeamRow.name == self.team)) is None:
                add_team(session, self.team, "simulated workers")
            for worker in self.workers:
                user = session.scalar(select(UserRow).where(UserRow.username == worker.username))
                if user is None:
                    user = add_user(session, worker.username, password=None, role=Role.WORKER)
                add_member(session, self.team, worker.username)
                ids[worker.username] = user.id
        return ids

    def work(self, job: str | int, *, max_tasks: int | None = None) -> WorkSummary:
        """Answer the job's tasks, worker after worker, until none waits (or `max_tasks`)."""
        with self.project.session() as session:
            job_id = get_job(session, job).id
        per_worker: dict[str, float] = {}
        actions: Counter[str] = Counter()
        tasks = 0
        idle = 0
        turn = 0
        while idle < len(self.workers) and (max_tasks is None or tasks < max_tasks):
            worker = self.workers[turn % len(self.workers)]
            turn += 1
            user_id = self.user_ids[worker.username]
            task = next_task(self.project.db, job_id, user_id)
            if task is None:
                idle += 1
                continue
            idle = 0
            answer = self._answer(task, worker)
            spent = _seconds(answer.actions, worker)
            submit(
                self.project.db,
                task.task_id,
                user_id,
                client_id=uuid.uuid4().hex,
                answer=answer.value,
                seconds=round(spent, 3),
            )
            tasks += 1
            per_worker[worker.username] = per_worker.get(worker.username, 0.0) + spent
            actions.update(answer.actions)
        return WorkSummary(tasks, sum(per_worker.values()), dict(per_worker), dict(actions))

    def _answer(self, task: TaskView, worker: WorkerProfile) -> _Answer:
        """The worker's answer to `task` and the actions it took."""
        truth = self.truth.get(task.image_uri)
        if truth is None:
            raise NotFound(f"the simulated workforce has no ground truth for {task.image_uri}")
        labels = task.labels
        size = ImageSize(task.width or 1, task.height or 1)
        match task.task_type:
            case TaskType.CLASSIFICATION:
                assert isinstance(truth, Classification)
                chosen = Classification(self._class(truth.label, labels, worker))
                return _Answer(chosen, _choosing(chosen, task.proposals))
            case TaskType.MULTILABEL:
                true_labels = (
                    truth.labels if isinstance(truth, MultiLabel) else (_label(truth),)
                )
                picked = [self._class(x, labels, worker) for x in true_labels]
                several = MultiLabel(tuple(dict.fromkeys(picked)))
                return _Answer(several, _choosing(several, task.proposals))
            case TaskType.BOUNDING_BOX if isinstance(task.proposals, Boxes):
                # Proposed boxes (a model's, in automated labeling) are checked as in box
                # adjustment: kept, moved or deleted, and what they miss drawn.
                assert isinstance(truth, Boxes)
                return self._adjust(task, truth.boxes, size, worker)
            case TaskType.BOUNDING_BOX:
                assert isinstance(truth, Boxes)
                drawn = self._draw(truth.boxes, labels, size, worker)
                return _Answer(Boxes(drawn), Counter(draw_box=len(drawn)))
            case TaskType.VERIFICATION:
                return self._verify(task, truth, worker)
            case TaskType.ADJUSTMENT:
                assert isinstance(truth, Boxes)
                return self._adjust(task, truth.boxes, size, worker)
        raise ValueError(f"the simulated workforce cannot answer a {task.task_type} task")

    def _class(self, label: str, labels: Sequence[str], worker: WorkerProfile) -> str:
        others = [x for x in labels if x != label]
        if others and self._rng.random() < worker.class_error_rate:
            return self._rng.choice(others)
        return label

    def _draw(
        self, boxes: Sequence[Box], labels: Sequence[str], size: ImageSize, worker: WorkerProfile
    ) -> tuple[Box, ...]:
        drawn = []
        for box in boxes:
            if self._rng.random() < worker.miss_rate:
                continue
            placed = self._jitter(box, size, worker)
            if placed is not None:
                drawn.append(replace(placed, label=self._class(box.label, labels, worker)))
        return tuple(drawn)

    def _jitter(self, box: Box, size: ImageSize, worker: WorkerProfile) -> Box | None:
        def move(extent: float) -> float:
            return self._rng.uniform(-1, 1) * worker.box_jitter * extent

        left, top = box.left + move(box.width), box.top + move(box.height)
        right, bottom = box.right + move(box.width), box.bottom + move(box.height)
        moved = Box(box.label, left, top, max(right - left, 1.0), max(bottom - top, 1.0))
        placed = clip(moved, size)
        if placed is None:
            return None
        # Whole pixels, as a person's drawing tool gives them.
        left, top = round(placed.left), round(placed.top)
        right = min(max(round(placed.right), left + 1), size.width)
        bottom = min(max(round(placed.bottom), top + 1), size.height)
        if right <= left or bottom <= top:
            return None
        return Box(box.label, left, top, right - left, bottom - top)

    def _verify(self, task: TaskView, truth: Value, worker: WorkerProfile) -> _Answer:
        proposal = task.proposals
        agree, reject = task.verification_categories[0], task.verification_categories[1]
        right = type(proposal) is type(truth) and is_correct(proposal, truth)
        if self._rng.random() < worker.class_error_rate:
            right = not right
        boxes = len(proposal.boxes) if isinstance(proposal, Boxes) else 0
        actions = Counter(verify_box=boxes) if boxes else Counter(verify_label=1)
        if right:
            return _Answer(Verification(agree, 0), actions)
        reason = f"the image shows {_describe(truth)}"
        return _Answer(Verification(reject, 1, comments=(reason,)), actions)

    def _adjust(
        self, task: TaskView, truth: Sequence[Box], size: ImageSize, worker: WorkerProfile
    ) -> _Answer:
        proposed = task.proposals.boxes if isinstance(task.proposals, Boxes) else ()
        actions: Counter[str] = Counter()
        kept: list[Box] = []
        found: set[int] = set()
        for box in proposed:
            candidates = [
                (iou(box, t), i) for i, t in enumerate(truth) if i not in found
            ]
            overlap, index = max(candidates, default=(0.0, -1))
            actions["verify_box"] += 1
            if overlap <= ADJUST_IOU:
                continue  # deleted: nothing is there
            found.add(index)
            target = truth[index]
            if overlap >= KEEP_IOU and box.label == target.label:
                kept.append(replace(box, confidence=None))
                continue
            actions["adjust_box"] += 1
            placed = self._jitter(target, size, worker)
            if placed is not None:
                kept.append(replace(placed, label=self._class(target.label, task.labels, worker)))
        missed = [t for i, t in enumerate(truth) if i not in found]
        drawn = self._draw(missed, task.labels, size, worker)
        actions["draw_box"] += len(drawn)
        return _Answer(Boxes((*kept, *drawn)), actions)


def _choosing(answer: Classification | MultiLabel, proposal: Value | None) -> Counter[str]:
    """A suggested label the worker agrees with is accepted at a glance; otherwise they
    classify the image themselves."""
    if type(proposal) is type(answer) and is_correct(proposal, answer):
        return Counter(verify_label=1)
    return Counter(classify=1)


def _seconds(actions: Counter[str], worker: WorkerProfile) -> float:
    """What the actions took this worker, the task's overhead included."""
    return task_seconds(actions, worker.seconds, traditional_boxes=worker.traditional_boxes)


def _label(value: Value) -> str:
    if isinstance(value, Classification):
        return value.label
    raise TypeError(f"expected a class label as ground truth, not {type(value).__name__}")


def _describe(truth: Value) -> str:
    match truth:
        case Classification(label=label):
            return label
        case MultiLabel(labels=labels):
            return ", ".join(labels)
        case Boxes(boxes=boxes):
            counts = Counter(b.label for b in boxes)
            return ", ".join(f"{n} {label}" for label, n in sorted(counts.items())) or "nothing"
    return "something else"


__all__ = [
    "SimulatedWorkforce",
    "Truth",
    "WorkSummary",
    "WorkerProfile",
]
