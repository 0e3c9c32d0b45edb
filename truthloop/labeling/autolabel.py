"""Automated labeling: the model labels what it is sure of, at a guaranteed accuracy, and people
label the rest in the most useful order (Ground Truth's automated data labeling).

    job = create_autolabel_job(session, JobSpec(...), AutoLabelSpec(target_accuracy=0.95))
    # people label the released batch through next_task/submit, then:
    advance(project, job.name)   # train, threshold, machine-label, release the next batch

Each iteration:
1. people label a batch (the first drawn at random, `validation_size` items larger: those
   are held out as the validation set, which the model never trains on; a chained job's first
   batch is the validation set alone, as its initial model is ready to label);
2. a model trains on everything else people labeled (from the previous iteration's model, or
   the job's `initial_model`: job chaining; with nothing new to learn from, the initial model
   serves as it is);
3. it predicts the unlabeled items and the validation set;
4. the threshold is the lowest confidence at which the validation items at or above it meet the
   target accuracy on the Clopper–Pearson bound (`truthloop.core.thresholds`); if none does,
   nothing is machine-labeled this round;
5. unlabeled items at or above it are labeled by the machine (source MODEL, `human-annotated:
   no`, with their confidence); the next batch is the most uncertain items, spread out
   (`truthloop.core.sampling`), or a random draw when the job's sampling is "random"; people
   see the model's labels of its training items as proposals to accept or correct
   (`pre_annotate`; verifying a box takes a person a fraction of drawing it), while the
   validation items come without, so that people's labels of them owe nothing to the model
   they judge;
6. until every item is labeled, or the budget cannot pay for another batch (the job stops).
A model that labeled nothing but came within a batch of the target (its validation accuracy,
gaining as much again as since the model before, would pass it) gets its next chance after half
a batch: people label no more than the model may need.
When no more than a batch is left after a round in which the model labeled, people get the
less certain half and the model, trained on that too, a round on the rest, for as long as it
is likely to label some and saves people more than its training costs. The validation set
starts at an eighth of the items and grows toward `validation_max` only where the bound holds
the threshold back and the items the model would label then outnumber those added. See
`autolabel_items` for how the items are held back from people and released.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.core.confidence import class_distribution, image_confidence
from truthloop.core.correctness import is_correct, judge, matched_ious
from truthloop.core.sampling import Candidate, random_batch, uncertainty_batch
from truthloop.core.thresholds import (
    Coverage,
    choose_threshold,
    coverage,
    validation_needed,
    worth_second_opinions,
)
from truthloop.core.types import Boxes, Value
from truthloop.errors import InputError
from truthloop.labeling import autolabel_items as items
from truthloop.labeling.autolabel_model import (
    MODEL_TASKS,
    ModelTerms,
    predict_with,
    reuse,
    train,
)
from truthloop.labeling.jobs import JobSpec, JobStatus, TaskType, create_job, get_job
from truthloop.ml.registry import get_version
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    AutoLabelIterationRow,
    AutoLabelJobRow,
    DatasetRow,
    JobRow,
    utcnow,
)

# People asked about one validation item at most: a third settles two who differ; past that,
# an image people cannot agree on is left counted against the model.
MOST_OPINIONS = 3


class Sampling(StrEnum):
    UNCERTAINTY = "uncertainty"
    RANDOM = "random"


@dataclass(frozen=True)
class AutoLabelSpec:
    """The terms of automated labeling. `batch_size` defaults to a tenth of the items (within
    20-250), `validation_size` to an eighth (within 100-250); the validation set then grows, up to
    `validation_max` (default: a sixth of the items, within 100-250; a `validation_size` given
    stays fixed unless `validation_max` is given too), when only its size keeps the model from
    labeling more than the growth costs (`core.thresholds.validation_needed`); `budget` caps
    the cost (people's tasks at the job's price plus compute at `compute_price_per_hour`);
    `train_passes` sizes each training (images seen, about epochs x images);
    `backend`/`backend_params` pick the model (default: the built-in one for the task);
    `pre_annotate` shows people the model's labels of the items they label for training, as
    proposals under the attribute `<job>-proposals`."""

    target_accuracy: float = 0.95
    confidence: float = 0.95
    batch_size: int | None = None
    validation_size: int | None = None
    validation_max: int | None = None
    budget: float | None = None
    compute_price_per_hour: float = 0.0
    sampling: Sampling = Sampling.UNCERTAINTY
    initial_model: str | None = None
    model_project: str | None = None
    backend: str | None = None
    backend_params: dict[str, Any] | None = None
    train_passes: int = 2000
    seed: int = 0
    pre_annotate: bool = True


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


def _check(spec: AutoLabelSpec, task_type: TaskType) -> None:
    if task_type not in MODEL_TASKS:
        kinds = ", ".join(t.value for t in MODEL_TASKS)
        raise InputError(f"automated labeling works for {kinds} jobs, not {task_type.value}")
    for what, value in (("target accuracy", spec.target_accuracy), ("confidence", spec.confidence)):
        if not 0.5 <= value < 1.0:
            raise InputError(f"{what} must be at least 0.5 and below 1, not {value!r}")
    for what, size in (
        ("batch size", spec.batch_size),
        ("validation size", spec.validation_size),
        ("validation max", spec.validation_max),
    ):
        if size is not None and size < 1:
            raise InputError(f"{what} must be at least 1, not {size!r}")
    if spec.validation_max is not None and spec.validation_max < (spec.validation_size or 1):
        raise InputError(
            f"validation max ({spec.validation_max}) must be at least the validation size"
            f" ({spec.validation_size})"
        )
    if spec.budget is not None and not (math.isfinite(spec.budget) and spec.budget > 0):
        raise InputError(f"the budget must be a number above 0, not {spec.budget!r}")
    if not (math.isfinite(spec.compute_price_per_hour) and spec.compute_price_per_hour >= 0):
        raise InputError(
            f"the compute price per hour must be >= 0, not {spec.compute_price_per_hour!r}"
        )
    if spec.train_passes < 1:
        raise InputError(f"train passes must be at least 1, not {spec.train_passes!r}")
    Sampling(spec.sampling)


def create_autolabel_job(
    project: Project, spec: JobSpec, auto: AutoLabelSpec, *, created_by: int | None = None
) -> int:
    """Create a labeling job with automated labeling on and release its first, random batch
    to people (with an initial model, the validation set alone); the job's id. InputError
    says what is wrong (nothing is stored then)."""
    task_type = TaskType(spec.task_type)
    _check(auto, task_type)
    if auto.pre_annotate:
        if spec.proposals is not None:
            raise InputError(
                "an automated labeling job shows people its own model's proposals; to show those"
                f" under {spec.proposals!r} instead, turn pre-annotation off"
            )
        spec = replace(spec, proposals=items.proposals_attribute(spec.name))
    if auto.initial_model is not None:
        initial = get_version(project, auto.initial_model)
        if initial.task is not MODEL_TASKS[task_type]:
            raise InputError(
                f"initial model {initial.name} does {initial.task.value}, but a {task_type.value}"
                f" job needs a {MODEL_TASKS[task_type].value} model"
            )
    with project.session() as session:
        job = create_job(session, spec, created_by=created_by)
        if auto.pre_annotate and items.proposed(session, job):
            raise InputError(
                f"dataset {spec.dataset!r} already has annotations under {job.proposals!r}, where"
                " this job would put its model's proposals: choose another job name"
            )
        items.hold_all(session, job)
        total = len(items.unreleased(session, job))
        # Zero errors in 59 items is the least that bounds the error at 5 % (95 % confidence),
        # but a model is rarely perfect on the images it is surest of: one error takes 93
        # items, two 124, five 208 (people's slips are settled by second opinions; the
        # model's own errors are not). An eighth of the items to start, growing toward a sixth
        # only when the bound is what holds the machine back. On 1,250 synthetic logos, in 600
        # validation sets drawn from one early detector's predictions, 125 items certified
        # nothing in 77 % of draws, 150 in 47 % and 166 in 38 %: the pool labeled, net of the
        # extra validation labels, rose from 90 to 149 images; at 188 and 208 it fell again.
        validation = auto.validation_size or min(max(total // 8, 100), 250)
        most = auto.validation_max or (
            None if auto.validation_size else max(min(max(total // 6, 100), 250), validation)
        )
        row = AutoLabelJobRow(
            job_id=job.id,
            task=MODEL_TASKS[task_type].value,
            target_accuracy=auto.target_accuracy,
            confidence=auto.confidence,
            batch_size=auto.batch_size or min(max(total // 10, 20), 250),
            validation_size=validation,
            validation_max=most,
            budget=auto.budget,
            compute_price_per_hour=auto.compute_price_per_hour,
            sampling=Sampling(auto.sampling).value,
            model_project=auto.model_project or spec.name,
            backend=auto.backend,
            backend_params=dict(auto.backend_params or {}),
            initial_model=auto.initial_model,
            train_passes=auto.train_passes,
            seed=auto.seed,
            batch=0,
        )
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
    return [
        Iteration(**{name: getattr(r, name) for name in Iteration.__slots__})  # type: ignore[attr-defined]
        for r in rows
    ]


def advance(project: Project, job_ref: str | int) -> Iteration | None:
    """Run the job's next iteration if people have labeled the whole released batch: train,
    threshold, machine-label, release the next batch (or finish the job). None while people
    are still at work, or when the job is over."""
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
        job_id, dataset = job.id, session.get(DatasetRow, job.dataset_id)
        assert dataset is not None  # the foreign key guarantees it
        dataset_name = dataset.name
        labeled = items.human_labeled(session, job)
        validation = items.validation_ids(session, job)
        pool = items.unreleased(session, job)
        started_at = auto.batch_started_at or utcnow()
        human = items.batch_work(session, job, auto.batch, started_at)
        learn = bool(items.batch_items(session, job, auto.batch) - validation)
        spent = sum(i.cost for i in iterations(session, job.id))
        terms = ModelTerms(
            task=MODEL_TASKS[TaskType(job.task_type)],
            labels=tuple(job.labels),
            backend=auto.backend,
            params=dict(auto.backend_params or {}),
            passes=auto.train_passes,
        )
        number, job_name = auto.batch, job.name
        model_project = auto.model_project
        start_from = auto.latest_model or auto.initial_model
        target, confidence = auto.target_accuracy, auto.confidence
        most = auto.validation_max or auto.validation_size
    compute_started = time.perf_counter()
    model_round = (
        _model_round(
            project,
            terms,
            labeled,
            validation,
            pool,
            model_project=model_project,
            dataset=dataset_name,
            start_from=start_from,
            learn=learn,
            target=target,
            confidence=confidence,
            most=most,
            report={"job": job_name, "iteration": number},
        )
        # Before any person's label to learn from (a first batch left to expire), there is no
        # model to ask.
        if pool and (start_from or any(x.item_id not in validation for x in labeled))
        else _Round({}, None, None, None, None, (), None)
    )
    found, chosen, overall = model_round.found, model_round.chosen, model_round.overall
    compute_seconds = time.perf_counter() - compute_started
    with project.session() as session:
        job = get_job(session, job_id)
        auto = autolabel_terms(session, job)
        assert auto is not None
        now = utcnow()
        machine = _machine_labels(pool, found, chosen)
        items.machine_label(session, job, machine, now)
        confidences = {i: image_confidence(v)[1] for i, v in found.items()}
        human_items, human_tasks, human_seconds = human
        cost = human_tasks * job.price_per_task + (
            compute_seconds / 3600 * auto.compute_price_per_hour
        )
        iteration = Iteration(
            number=number,
            human_labeled=human_items,
            machine_labeled=len(machine),
            validation_items=len(validation),
            threshold=chosen.threshold if chosen else None,
            validation_accuracy=overall.accuracy if overall else None,
            accuracy_bound=overall.accuracy_bound if overall else None,
            mean_iou=model_round.mean_iou,
            model_version=model_round.version,
            human_seconds=human_seconds,
            compute_seconds=compute_seconds,
            cost=cost,
            elapsed_s=(now - started_at).total_seconds(),
            remaining=len(pool) - len(machine),
        )
        session.add(AutoLabelIterationRow(job_id=job.id, ended_at=now, **iteration.to_json()))
        if model_round.version is not None:
            auto.latest_model = model_round.version
        if model_round.validation_needed is not None:
            auto.validation_size = max(auto.validation_size, model_round.validation_needed)
        machine_ids = {i for i, _ in machine}
        left = {i: confidences.get(i, 0.0) for i, _ in pool if i not in machine_ids}
        features = {
            i: class_distribution(found[i], tuple(job.labels)) for i in left if i in found
        }
        _release_next(
            session,
            job,
            auto,
            left,
            spent=spent + cost,
            features=features,
            disputed=model_round.disputed,
            machine_labeled=len(machine),
            proposals=_Proposals(model_round.version, found) if model_round.version else None,
            training_cost=_training_cost(session, job.id, auto.compute_price_per_hour),
            half_batch=_within_a_batch_of_target(iterations(session, job.id), target),
        )
        return iteration


def _within_a_batch_of_target(rounds: list[Iteration], target: float) -> bool:
    """Whether the last round's model, which labeled nothing, would pass the target accuracy
    on the validation set if the next batch taught it as much as the last taught the model
    before it (the rounds, in order, the last one included)."""
    last = rounds[-1]
    if last.validation_accuracy is None or last.machine_labeled:
        return False
    before = [
        r.validation_accuracy
        for r in rounds[:-1]
        if r.model_version not in (None, last.model_version) and r.validation_accuracy is not None
    ]
    return bool(before) and 2 * last.validation_accuracy - before[-1] >= target


@dataclass(frozen=True, slots=True)
class _Round:
    """What the iteration's model said: its labels by item, the threshold chosen (and what
    the validation set says at it, or over all of it when none qualified)."""

    found: dict[int, Value]
    chosen: Coverage | None
    overall: Coverage | None
    version: str | None
    mean_iou: float | None
    disputed: tuple[int, ...]  # validation items whose people leave the model's label unsettled
    validation_needed: int | None  # the validation size worth growing to


def _model_round(
    project: Project,
    terms: ModelTerms,
    labeled: list[items.LabeledItem],
    validation: set[int],
    pool: list[tuple[int, str]],
    *,
    model_project: str,
    dataset: str,
    start_from: str | None,
    learn: bool,
    target: float,
    confidence: float,
    most: int,
    report: dict[str, Any],
) -> _Round:
    """Train on people's labels outside the validation set (when this round brought new
    ones), predict the pool and the validation set, and choose the threshold there.

    A validation item is right when the model's label is the label of a person who labeled
    it. People slip (a wrong class on one box in fifty makes one image in twenty wrong), so
    where the model disagrees with the one person who labeled an item among its surest, a
    second person labels it, and a third where the two differ from each other too (`disputed`,
    those `worth_second_opinions` asked for by the next round; `core.correctness.judge`): if
    one agrees with the model, the others slipped. The model is then counted right wrongly
    only when a person makes the very mistake the model made."""
    records = [x.record() for x in labeled if x.item_id not in validation]
    trained = (
        train(
            project,
            terms,
            records,
            model_project=model_project,
            dataset=dataset,
            start_from=start_from,
            report=report,
        )
        if start_from is None or (records and learn)
        else reuse(project, start_from)  # nothing new to learn from: a chained job's first
    )
    checked: dict[int, list[items.LabeledItem]] = {}
    for x in labeled:
        if x.item_id in validation:
            checked.setdefault(x.item_id, []).append(x)
    targets = [(i, people[0].uri) for i, people in checked.items()]
    found = predict_with(project, trained, [*pool, *targets])
    scored: list[tuple[float, bool]] = []
    ious: list[tuple[float, list[float]]] = []
    disputed: dict[int, float] = {}
    for item_id, people in checked.items():
        if item_id not in found:
            continue
        label, score = image_confidence(found[item_id])
        verdict = judge(label, [x.value for x in people])
        scored.append((score, verdict is True))
        if verdict is None and len(people) < MOST_OPINIONS:
            disputed[item_id] = score
        agreed = [x.value for x in people if is_correct(label, x.value)]
        truth = (agreed or [people[0].value])[0]
        if isinstance(truth, Boxes) and isinstance(label, Boxes):
            ious.append((score, matched_ious(truth.boxes, label.boxes)))
    chosen = choose_threshold(scored, target, confidence)
    overall = chosen or (coverage(0.0, scored, confidence) if scored else None)
    cut = chosen.threshold if chosen else 0.0
    kept = [v for score, values in ious for v in values if score >= cut]
    mean_iou = sum(kept) / len(kept) if kept else None
    asked = worth_second_opinions(disputed, chosen, scored, target, confidence)
    grow = _validation_worth_growing(found, pool, scored, chosen, most, target, confidence)
    return _Round(found, chosen, overall, trained.version, mean_iou, asked, grow)


def _validation_worth_growing(
    found: dict[int, Value],
    pool: list[tuple[int, str]],
    scored: list[tuple[float, bool]],
    chosen: Coverage | None,
    most: int,
    target: float,
    confidence: float,
) -> int | None:
    """The validation size to grow to, when a lower threshold it would certify labels more
    of the pool than the items added cost people (see `validation_needed`)."""
    needed = validation_needed(scored, chosen, most, target, confidence)
    if needed is None:
        return None
    size, lower = needed
    scores = [image_confidence(found[i])[1] for i, _ in pool if i in found]
    now = chosen.threshold if chosen else math.inf
    gained = sum(1 for score in scores if lower <= score < now)
    return size if gained > size - len(scored) else None


def _machine_labels(
    pool: list[tuple[int, str]], found: dict[int, Value], chosen: Coverage | None
) -> list[tuple[int, Value]]:
    if chosen is None:
        return []
    labels = []
    for item_id, _ in pool:
        if item_id not in found:
            continue
        label, score = image_confidence(found[item_id])
        if score >= chosen.threshold:
            labels.append((item_id, label))
    return labels


@dataclass(frozen=True, slots=True)
class _Proposals:
    """A model version's labels by item, to show people as proposals."""

    version: str
    found: dict[int, Value]

    def of(self, item_ids: list[int]) -> list[tuple[int, Value]]:
        """The labels the machine would give these items; none for an image where it would
        draw no box, as a person then draws from scratch anyway."""
        labels = [(i, image_confidence(self.found[i])[0]) for i in item_ids if i in self.found]
        return [(i, v) for i, v in labels if not (isinstance(v, Boxes) and not v.boxes)]


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
    proposals: _Proposals | None = None,
    half_batch: bool = False,
) -> None:
    """Release the next batch of the items in `left` (item id -> the model's confidence; all
    unlabeled items before the first model), or finish the job. While some validation items
    are `disputed`, the round asks second opinions on them alone, so that the same model can
    choose its threshold again on what people then say. When no more than a batch is left,
    people get the less certain half while another round of the model pays (see
    `_another_round_pays`). Where the job shows proposals, the batch's items outside the
    validation set carry the model's labels (`proposals`). With `half_batch`, people label
    half a batch for training."""
    pool = left or {i: 0.0 for i, _ in items.unreleased(session, job)}
    if auto.batch > 0 and not left:
        _finish(job, JobStatus.COMPLETED)
        return
    price = job.price_per_task * job.workers_per_item
    affordable = auto.budget is None or price * len(disputed) <= auto.budget - spent + 1e-9
    if disputed and affordable:
        auto.batch += 1
        auto.batch_started_at = utcnow()
        items.ask_second_opinion(session, job, disputed, auto.batch_started_at)
        return
    missing = max(auto.validation_size - len(items.validation_ids(session, job)), 0)
    # A chained job's first model is the initial one, ready to label: people label only the
    # validation set first, so that it can choose its threshold and label from iteration 1.
    chained_start = auto.batch == 0 and auto.initial_model is not None
    if chained_start:
        train_batch = 0
    elif half_batch:
        train_batch = math.ceil(auto.batch_size / 2)
    else:
        train_batch = auto.batch_size
    size = min(train_batch + missing, len(pool))
    unsure = len(pool) - missing
    if unsure <= train_batch and _another_round_pays(
        machine_labeled, len(left), unsure, training_cost, price
    ):
        size = missing + math.ceil(unsure / 2)
    if auto.budget is not None and price > 0:
        size = min(size, int((auto.budget - spent) / price + 1e-9))
    if size <= 0:
        _finish(job, JobStatus.STOPPED)
        return
    seed = auto.seed * 1000 + auto.batch
    # The validation set is drawn whole from the first batch (at random, so it stands for all
    # the items), beside a batch for training; only a budget cut leaves some of it for later.
    if size >= train_batch + missing or chained_start:
        held_out = min(missing, size)
    else:
        held_out = min(missing, math.ceil(size / 2))
    validation = [int(i) for i in random_batch(sorted(pool), held_out, seed=seed)]
    rest = sorted(set(pool) - set(validation))
    if auto.sampling == Sampling.RANDOM or not features:  # no model's view: a random draw
        picked = random_batch(rest, size - held_out, seed=seed + 1)
    else:
        candidates = [Candidate(i, 1.0 - pool[i], (features or {}).get(i, ())) for i in rest]
        picked = uncertainty_batch(candidates, size - held_out)
    auto.batch += 1
    auto.batch_started_at = utcnow()
    trained_on = [int(i) for i in picked]  # type: ignore[call-overload]
    items.release(
        session, job, [*validation, *trained_on], validation, auto.batch, auto.batch_started_at
    )
    if proposals is not None and items.shows_own_proposals(job):
        items.propose(
            session, job, proposals.of(trained_on), proposals.version, auto.batch_started_at
        )


def _another_round_pays(
    labeled: int, left: int, unsure: int, training_cost: float, price: float
) -> bool:
    """Whether the model, trained also on the less certain half of the `unsure` items left,
    would likely label at least one of the other half, saving people more than a training
    costs: it is expected to label the share it labeled last round (`labeled` of `labeled +
    left`)."""
    if labeled == 0:
        return False
    expected = labeled / (labeled + left) * (unsure // 2)
    return expected >= 1 and training_cost <= expected * price


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
