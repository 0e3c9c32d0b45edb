"""The automated-labeling workflow: a job created with its terms, and `advance`, which gathers
a round's inputs, runs the model round, records it and releases the next batch of items to
people (the package's docstring tells the whole loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.core.confidence import class_distribution
from truthloop.core.rounds import (
    BatchState,
    NextBatch,
    Step,
    job_sizes,
    next_batch,
    within_a_batch_of_target,
)
from truthloop.core.sampling import Candidate, random_batch, uncertainty_batch
from truthloop.core.types import Value
from truthloop.errors import InputError
from truthloop.labeling.autolabel import items
from truthloop.labeling.autolabel.model import MODEL_TASKS, ModelTerms
from truthloop.labeling.autolabel.round import (
    NO_MODEL,
    ModelRound,
    Proposals,
    machine_labels,
    model_round,
)
from truthloop.labeling.autolabel.spec import (
    AutoLabelSpec,
    Sampling,
    autolabel_job_spec,
    terms_row,
)
from truthloop.labeling.jobs import JobSpec, JobStatus, TaskType, create_job, get_job
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    AutoLabelIterationRow,
    AutoLabelJobRow,
    DatasetRow,
    JobRow,
    utcnow,
)

__all__ = [
    "AutoLabelSpec",
    "Iteration",
    "Sampling",
    "advance",
    "autolabel_terms",
    "create_autolabel_job",
    "iterations",
    "run_autolabel",
]


@dataclass(frozen=True, slots=True)
class Iteration:
    """One iteration, as `truthloop job status --iterations` and the portal show it."""

    number: int
    human_labeled: int
    machine_labeled: int
    validation_items: int
    threshold: float | None
    validation_accuracy: float | None
    accuracy_bound: float | None
    mean_iou: float | None
    model_version: str | None
    human_seconds: float
    compute_seconds: float
    cost: float
    elapsed_s: float
    remaining: int

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def create_autolabel_job(
    project: Project, spec: JobSpec, auto: AutoLabelSpec, *, created_by: int | None = None
) -> int:
    """Create a labeling job with automated labeling on and release its first, random batch
    to people (with an initial model, the validation set alone); the job's id. InputError
    says what is wrong (nothing is stored then)."""
    spec = autolabel_job_spec(project, spec, auto)
    with project.session() as session:
        job = create_job(session, spec, created_by=created_by)
        if auto.pre_annotate and items.proposed(session, job):
            raise InputError(
                f"dataset {spec.dataset!r} already has annotations under {job.proposals!r}, where"
                " this job would put its model's proposals: choose another job name"
            )
        items.hold_all(session, job)
        sizes = job_sizes(
            len(items.unreleased(session, job)),
            batch=auto.batch_size,
            validation=auto.validation_size,
            validation_max=auto.validation_max,
        )
        row = terms_row(job.id, spec, auto, sizes)
        session.add(row)
        session.flush()
        _release_next(session, job, row, {}, spent=0.0)
        return job.id


def autolabel_terms(session: Session, job: JobRow) -> AutoLabelJobRow | None:
    return session.get(AutoLabelJobRow, job.id)


def iterations(session: Session, job_id: int) -> list[Iteration]:
    rows = session.scalars(
        select(AutoLabelIterationRow)
        .where(AutoLabelIterationRow.job_id == job_id)
        .order_by(AutoLabelIterationRow.number)
    )
    return [Iteration(**{name: getattr(r, name) for name in Iteration.__slots__}) for r in rows]


def advance(project: Project, job_ref: str | int) -> Iteration | None:
    """Run the job's next iteration if people have labeled the whole released batch: train,
    threshold, machine-label, release the next batch (or finish the job). None while people
    are still at work, or when the job is over."""
    inputs = _round_inputs(project, job_ref)
    if inputs is None:
        return None
    compute_started = time.perf_counter()
    result = _run_model(project, inputs)
    return _record_round(project, inputs, result, time.perf_counter() - compute_started)


@dataclass(frozen=True, slots=True)
class _RoundInputs:
    """What an iteration starts from, read in one transaction."""

    job_id: int
    number: int
    terms: ModelTerms
    labeled: list[items.LabeledItem]  # people's labels so far, validation items' included
    validation: set[int]
    pool: list[tuple[int, str]]  # (item id, uri) of the items no one has labeled
    started_at: datetime
    human: tuple[int, int, float]  # people's items, tasks and seconds in the batch
    spent: float  # the cost of the iterations before
    learn: bool  # the batch brought labels to train on (not only validation items)
    model_project: str
    dataset: str
    start_from: str | None
    target: float
    confidence: float
    most: int
    report: dict[str, Any]


def _round_inputs(project: Project, job_ref: str | int) -> _RoundInputs | None:
    """The iteration's inputs, or None while people have released items to label (or the
    job is over)."""
    with project.session() as session:
        job = get_job(session, job_ref)
        auto = autolabel_terms(session, job)
        if auto is None:
            raise InputError(f"job {job.name!r} does not have automated labeling on")
        done = {i.number for i in iterations(session, job.id)}
        if auto.batch in done or auto.batch == 0:
            return None
        items.return_expired(session, job, utcnow())
        if items.open_released(session, job):
            return None
        dataset = session.get(DatasetRow, job.dataset_id)
        assert dataset is not None  # the foreign key guarantees it
        labeled = items.human_labeled(session, job)
        validation = items.validation_ids(session, job)
        pool = items.unreleased(session, job)
        started_at = auto.batch_started_at or utcnow()
        human = items.batch_work(session, job, auto.batch, started_at)
        learn = bool(items.batch_items(session, job, auto.batch) - validation)
        spent = sum(i.cost for i in iterations(session, job.id))
        return _RoundInputs(
            job_id=job.id,
            number=auto.batch,
            terms=ModelTerms(
                task=MODEL_TASKS[TaskType(job.task_type)],
                labels=tuple(job.labels),
                backend=auto.backend,
                params=dict(auto.backend_params or {}),
                passes=auto.train_passes,
            ),
            labeled=labeled,
            validation=validation,
            pool=pool,
            started_at=started_at,
            human=human,
            spent=spent,
            learn=learn,
            model_project=auto.model_project,
            dataset=dataset.name,
            start_from=auto.latest_model or auto.initial_model,
            target=auto.target_accuracy,
            confidence=auto.confidence,
            most=auto.validation_max or auto.validation_size,
            report={"job": job.name, "iteration": auto.batch},
        )


def _run_model(project: Project, inputs: _RoundInputs) -> ModelRound:
    """The round's model and what it said; before any person's label to learn from (a first
    batch left to expire), there is no model to ask."""
    if not inputs.pool or not (
        inputs.start_from or any(x.item_id not in inputs.validation for x in inputs.labeled)
    ):
        return NO_MODEL
    return model_round(
        project,
        inputs.terms,
        inputs.labeled,
        inputs.validation,
        inputs.pool,
        model_project=inputs.model_project,
        dataset=inputs.dataset,
        start_from=inputs.start_from,
        learn=inputs.learn,
        target=inputs.target,
        confidence=inputs.confidence,
        most=inputs.most,
        report=inputs.report,
    )


def _record_round(
    project: Project, inputs: _RoundInputs, result: ModelRound, compute_seconds: float
) -> Iteration:
    """Store the machine's labels and the iteration, then release the next batch."""
    with project.session() as session:
        job = get_job(session, inputs.job_id)
        auto = autolabel_terms(session, job)
        assert auto is not None
        now = utcnow()
        machine = machine_labels(inputs.pool, result.sure, result.chosen)
        items.machine_label(session, job, machine, now)
        human_items, human_tasks, human_seconds = inputs.human
        cost = human_tasks * job.price_per_task + (
            compute_seconds / 3600 * auto.compute_price_per_hour
        )
        iteration = Iteration(
            number=inputs.number,
            human_labeled=human_items,
            machine_labeled=len(machine),
            validation_items=len(inputs.validation),
            threshold=result.chosen.threshold if result.chosen else None,
            validation_accuracy=result.overall.accuracy if result.overall else None,
            accuracy_bound=result.overall.accuracy_bound if result.overall else None,
            mean_iou=result.mean_iou,
            model_version=result.version,
            human_seconds=human_seconds,
            compute_seconds=compute_seconds,
            cost=cost,
            elapsed_s=(now - inputs.started_at).total_seconds(),
            remaining=len(inputs.pool) - len(machine),
        )
        session.add(AutoLabelIterationRow(job_id=job.id, ended_at=now, **iteration.to_json()))
        if result.version is not None:
            auto.latest_model = result.version
        if result.validation_needed is not None:
            auto.validation_size = max(auto.validation_size, result.validation_needed)
        _release_after(session, job, auto, inputs, result, machine, inputs.spent + cost)
        return iteration


def _release_after(
    session: Session,
    job: JobRow,
    auto: AutoLabelJobRow,
    inputs: _RoundInputs,
    result: ModelRound,
    machine: list[tuple[int, Value]],
    spent: float,
) -> None:
    """Release the batch after a round: of the items the machine left, by the model's
    confidence in them."""
    found = result.found
    machine_ids = {i for i, _ in machine}
    left = {
        i: result.sure[i][1] if i in result.sure else 0.0
        for i, _ in inputs.pool
        if i not in machine_ids
    }
    features = {i: class_distribution(found[i], tuple(job.labels)) for i in left if i in found}
    _release_next(
        session,
        job,
        auto,
        left,
        spent=spent,
        features=features,
        disputed=result.disputed,
        machine_labeled=len(machine),
        proposals=Proposals(result.version, found) if result.version else None,
        training_cost=_training_cost(session, job.id, auto.compute_price_per_hour),
        half_batch=within_a_batch_of_target(iterations(session, job.id), inputs.target),
    )


def _release_next(
    session: Session,
    job: JobRow,
    auto: AutoLabelJobRow,
    left: dict[int, float],
    *,
    spent: float,
    features: dict[int, tuple[float, ...]] | None = None,
    disputed: tuple[int, ...] = (),
    machine_labeled: int = 0,
    training_cost: float = 0.0,
    proposals: Proposals | None = None,
    half_batch: bool = False,
) -> None:
    """Release the next batch of the items in `left` (item id -> the model's confidence; all
    unlabeled items before the first model), ask second opinions on the `disputed`
    validation items, or finish the job, as `core.rounds.next_batch` says. Where the job shows
    proposals, the batch's items outside the validation set carry the model's labels
    (`proposals`)."""
    pool = left if auto.batch > 0 else {i: 0.0 for i, _ in items.unreleased(session, job)}
    state = BatchState(
        released=auto.batch,
        pool=len(pool),
        batch_size=auto.batch_size,
        validation_missing=max(auto.validation_size - len(items.validation_ids(session, job)), 0),
        chained=auto.initial_model is not None,
        price=job.price_per_task * job.workers_per_item,
        budget=auto.budget,
        spent=spent,
        disputed=len(disputed),
        machine_labeled=machine_labeled,
        training_cost=training_cost,
        half_batch=half_batch,
    )
    step = next_batch(state)
    if step.step is Step.COMPLETE:
        _finish(job, JobStatus.COMPLETED)
    elif step.step is Step.STOP:
        _finish(job, JobStatus.STOPPED)
    elif step.step is Step.SECOND_OPINIONS:
        auto.batch += 1
        auto.batch_started_at = utcnow()
        items.ask_second_opinion(session, job, disputed, auto.batch_started_at)
    else:
        _release_batch(session, job, auto, pool, step, features, proposals)


def _release_batch(
    session: Session,
    job: JobRow,
    auto: AutoLabelJobRow,
    pool: dict[int, float],
    step: NextBatch,
    features: dict[int, tuple[float, ...]] | None,
    proposals: Proposals | None,
) -> None:
    """Draw the batch `step` sizes from `pool` and release it to people: the validation items
    at random (so that they stand for all the items), the rest the least certain and spread
    out, or at random where the job samples at random or there is no model's view yet."""
    seed = auto.seed * 1000 + auto.batch
    validation = [int(i) for i in random_batch(sorted(pool), step.held_out, seed=seed)]
    rest = sorted(set(pool) - set(validation))
    if auto.sampling == Sampling.RANDOM or not features:
        picked = random_batch(rest, step.for_training, seed=seed + 1)
    else:
        candidates = [Candidate(i, 1.0 - pool[i], features.get(i, ())) for i in rest]
        picked = uncertainty_batch(candidates, step.for_training)
    auto.batch += 1
    auto.batch_started_at = utcnow()
    trained_on = [int(i) for i in picked]
    items.release(
        session, job, [*validation, *trained_on], validation, auto.batch, auto.batch_started_at
    )
    if proposals is not None and items.shows_own_proposals(job):
        items.propose(
            session, job, proposals.of(trained_on), proposals.version, auto.batch_started_at
        )


def _training_cost(session: Session, job_id: int, price_per_hour: float) -> float:
    """The compute cost of the job's last round that trained a model."""
    trained = [i.compute_seconds for i in iterations(session, job_id) if i.compute_seconds > 0]
    return trained[-1] / 3600 * price_per_hour if trained else 0.0


def _finish(job: JobRow, status: JobStatus) -> None:
    if job.status == JobStatus.IN_PROGRESS:
        job.status = status.value
        job.completed_at = utcnow()


def run_autolabel(
    project: Project, job_ref: str | int, people: Callable[[int], object]
) -> list[Iteration]:
    """Drive the job to its end: `people(job_id)` labels what is released (a simulated
    workforce's `work`), then the next iteration runs; the iterations, in order."""
    with project.session() as session:
        job_id = get_job(session, job_ref).id
    while True:
        people(job_id)
        if advance(project, job_id) is None:
            with project.session() as session:
                if get_job(session, job_id).status != JobStatus.IN_PROGRESS:
                    return iterations(session, job_id)
                if items.open_released(session, get_job(session, job_id)):
                    raise InputError(
                        f"job {job_id}: people left released items unlabeled; the loop cannot"
                        " go on until they are labeled"
                    )
