"""A whole labeling job run by simulated workers on a dataset whose labels are the hidden
truth: with automated labeling (or by hand), measured against that truth and against labeling
everything by hand. `truthloop bench loop`, the demo and benchmarks/chaining.py run it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from truthloop.core.correctness import is_correct, matched_ious
from truthloop.core.effort import manual_seconds
from truthloop.core.serialize import value_from_json
from truthloop.core.types import Boxes, Source, Value
from truthloop.errors import InputError
from truthloop.labeling import JobSpec, TaskType, create_job, get_job
from truthloop.labeling.autolabel import (
    AutoLabelSpec,
    Iteration,
    autolabel_terms,
    create_autolabel_job,
    run_autolabel,
)
from truthloop.labeling.autolabel.model import MODEL_TASKS
from truthloop.ml.backend import target_of
from truthloop.ml.training_sets import read_dataset
from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile
from truthloop.storage.project import Project
from truthloop.storage.tables import AnnotationRow, ItemRow, JobItemRow, SubmissionRow

TASKS = {"classification": TaskType.CLASSIFICATION, "detection": TaskType.BOUNDING_BOX}
TEAM = "simulated"
# Ground Truth's published price per labeled object for the first 50,000 objects (USD).
DEFAULT_PRICE_PER_TASK = 0.08
DEFAULT_WORKERS = tuple(WorkerProfile(f"sim-worker-{n}") for n in range(1, 4))


@dataclass(frozen=True)
class LoopResult:
    """What a benchmarked job cost and how right its labels are (see `to_json`)."""

    job: str
    job_id: int
    items: int
    machine_labeled: int
    machine_correct: int
    human_labeled: int
    human_correct: int
    human_seconds: float
    manual_human_seconds: float
    cost: float
    manual_cost: float
    compute_seconds: float
    wall_seconds: float
    mean_iou: float | None
    model: str | None
    iterations: Sequence[Iteration] = field(default_factory=tuple)

    @property
    def machine_labeled_share(self) -> float:
        return self.machine_labeled / self.items if self.items else 0.0

    @property
    def machine_label_accuracy(self) -> float | None:
        return self.machine_correct / self.machine_labeled if self.machine_labeled else None

    def to_json(self) -> dict[str, Any]:
        """The stable interface of `truthloop bench loop --json`."""
        return {
            "job": self.job,
            "job_id": self.job_id,
            "items": self.items,
            "machine_labeled": self.machine_labeled,
            "machine_labeled_share": self.machine_labeled_share,
            "machine_label_accuracy": self.machine_label_accuracy,
            "human_labeled": self.human_labeled,
            "human_label_accuracy": self.human_correct / self.human_labeled
            if self.human_labeled
            else None,
            "human_seconds": self.human_seconds,
            "manual_human_seconds": self.manual_human_seconds,
            "human_seconds_ratio": self.human_seconds / self.manual_human_seconds
            if self.manual_human_seconds
            else None,
            "cost": self.cost,
            "manual_cost": self.manual_cost,
            "compute_seconds": self.compute_seconds,
            "wall_seconds": self.wall_seconds,
            "mean_iou": self.mean_iou,
            "model": self.model,
            "iterations": len(self.iterations),
            "per_iteration": [i.to_json() for i in self.iterations],
        }


def hidden_truth(project: Project, dataset: str, task: TaskType) -> dict[str, Value]:
    """Image URI -> the dataset's label of the job's kind, which the job never sees."""
    records, _ = read_dataset(project, dataset)
    truth = {}
    for record in records:
        value = target_of(record, MODEL_TASKS[task])
        if value is not None:
            truth[record.uri] = value
    if not truth:
        raise InputError(
            f"dataset {dataset!r} has no {task.value} labels to serve as the hidden truth"
        )
    return truth


def run_loop(
    project: Project,
    dataset: str,
    task: str | TaskType,
    *,
    job_name: str,
    auto: AutoLabelSpec | None = None,
    price_per_task: float = DEFAULT_PRICE_PER_TASK,
    workers: Sequence[WorkerProfile] = DEFAULT_WORKERS,
    seed: int = 0,
) -> LoopResult:
    """Label `dataset` afresh in a job named `job_name` with simulated workers: with automated
    labeling on `auto` terms, else all by hand."""
    task_type = TASKS[task] if isinstance(task, str) and task in TASKS else TaskType(task)
    truth = hidden_truth(project, dataset, task_type)
    crowd = SimulatedWorkforce(project, truth, workers, team=TEAM, seed=seed)
    spec = JobSpec(
        name=job_name,
        dataset=dataset,
        task_type=task_type,
        team=TEAM,
        price_per_task=price_per_task,
        max_concurrent_tasks=1,
    )
    started = time.perf_counter()
    iterations: Sequence[Iteration] = ()
    if auto is None:
        with project.session() as session:
            job_id = create_job(session, spec).id
        crowd.work(job_id)
    else:
        job_id = create_autolabel_job(project, spec, auto)
        iterations = run_autolabel(project, job_id, crowd.work)
    wall = time.perf_counter() - started
    return _measure(project, job_id, truth, iterations, wall, price_per_task)


def _measure(
    project: Project,
    job_id: int,
    truth: Mapping[str, Value],
    iterations: Sequence[Iteration],
    wall: float,
    price: float,
) -> LoopResult:
    with project.session() as session:
        job = get_job(session, job_id)
        rows = session.execute(
            select(ItemRow.uri, AnnotationRow.source, AnnotationRow.kind, AnnotationRow.value)
            .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
            .where(
                AnnotationRow.job_name == job.name,
                AnnotationRow.attribute == job.label_attribute,
            )
            .order_by(AnnotationRow.id)
        ).all()
        tasks, seconds = session.execute(
            select(func.count(), func.coalesce(func.sum(SubmissionRow.seconds), 0.0)).where(
                SubmissionRow.job_id == job.id
            )
        ).one()
        terms = autolabel_terms(session, job)
        model = terms.latest_model if terms else None
        uris = session.scalars(
            select(ItemRow.uri)
            .join(JobItemRow, JobItemRow.item_id == ItemRow.id)
            .where(JobItemRow.job_id == job.id)
        ).all()
        workers_per_item = job.workers_per_item
    job_truth = [truth[uri] for uri in uris]
    counts = {"machine": [0, 0], "human": [0, 0]}
    ious: list[float] = []
    # An item a second person labeled (a disputed validation item) counts once, as labeled last.
    latest = {uri: (uri, source, kind, data) for uri, source, kind, data in rows}
    for uri, source, kind, data in latest.values():
        value = value_from_json(kind, data)
        who = "machine" if source == Source.MODEL else "human"
        counts[who][0] += 1
        counts[who][1] += is_correct(value, truth[uri])
        if who == "machine" and isinstance(value, Boxes):
            true_boxes = truth[uri]
            assert isinstance(true_boxes, Boxes)
            ious += matched_ious(true_boxes.boxes, value.boxes)
    compute = sum(i.compute_seconds for i in iterations)
    return LoopResult(
        job=job.name,
        job_id=job_id,
        items=len(uris),
        machine_labeled=counts["machine"][0],
        machine_correct=counts["machine"][1],
        human_labeled=counts["human"][0],
        human_correct=counts["human"][1],
        human_seconds=float(seconds),
        manual_human_seconds=manual_seconds(job_truth) * workers_per_item,
        cost=sum(i.cost for i in iterations) if iterations else tasks * price,
        manual_cost=len(job_truth) * workers_per_item * price,
        compute_seconds=compute,
        wall_seconds=wall,
        mean_iou=sum(ious) / len(ious) if ious else None,
        model=model,
        iterations=tuple(iterations),
    )
